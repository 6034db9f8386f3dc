package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// TestInFlightBytesBound: past server.max_in_flight_bytes of bodies held by
// requests in flight, a new request gets 503 overloaded at once, and the
// bytes are given back when requests finish.
func TestInFlightBytesBound(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	g := newGateway(t, basicConfig+"server: {max_body_bytes: 1KiB, max_in_flight_bytes: 1KiB}\n", up)
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 600) + `"}]}`
	url := g.URL + "/v1/chat/completions"

	up.SetFaults("latency=400ms;times=1")
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the first request now holds its 600 bytes
	st, h, out := call(t, "POST", url, "", body)
	wantError(t, "a second body past the bound", st, out, 503, "overloaded", "max_in_flight_bytes")
	if h.Get("Retry-After") == "" {
		t.Error("503 without retry-after")
	}
	if st := <-done; st != 200 {
		t.Fatalf("first request = %d, want 200", st)
	}
	for i := range 3 { // the bytes came back
		if st, _, out := call(t, "POST", url, "", body); st != 200 {
			t.Fatalf("request %d after the first finished = %d %s", i, st, out)
		}
	}
}

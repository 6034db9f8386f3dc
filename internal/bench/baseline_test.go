package bench_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/bench"
)

// TestBaseline: the bare proxy passes chat answers and streams through
// unchanged in substance, with either upstream client.
func TestBaseline(t *testing.T) {
	up, err := bench.NewUpstream("")
	if err != nil {
		t.Fatal(err)
	}
	ups := httptest.NewServer(up)
	defer ups.Close()
	for _, netHTTP := range []bool{false, true} {
		bs := httptest.NewServer(bench.NewBaseline(ups.URL, netHTTP))
		for _, tc := range []struct{ body, want, ctype string }{
			{`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}`, `"object": "chat.completion"`, "application/json"},
			{`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello"}]}`, "data: [DONE]", "text/event-stream"},
		} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, bs.URL+"/v1/chat/completions", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
				t.Errorf("net/http=%v: %d %s\n%s", netHTTP, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		}
		bs.Close()
	}
}

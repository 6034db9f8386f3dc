package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/telemetry"
)

// TestRequestLogLine: the request line written through telemetry.LineWriter
// (what serve uses) has the keys and values of the one written through
// slog, for answers, streams and refusals.
func TestRequestLogLine(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	lines := func(fast bool) []string {
		logs := &syncBuffer{}
		opts := server.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Simulator: func(faults string) (http.Handler, error) {
			return emulator.New(emulator.Options{Faults: faults})
		}}
		if fast {
			opts.RequestLog = telemetry.NewLineWriter(logs)
		}
		srv, err := server.New(parseConfig(t, basicConfig, up), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		ts := httptest.NewServer(srv)
		defer ts.Close()
		for _, body := range []string{
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}`,
		} {
			do(t, "POST", ts.URL+"/v1/chat/completions", body, "Authorization", "Bearer "+gatewayKey)
		}
		do(t, "GET", ts.URL+"/healthz", "")
		volatile := regexp.MustCompile(`(time|request_id|latency|ttfb)=\S+`)
		var out []string
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "msg=request ") {
				out = append(out, volatile.ReplaceAllString(l, "$1=X"))
			}
		}
		return out
	}
	want, got := lines(false), lines(true)
	if len(want) != 4 {
		t.Fatalf("slog path wrote %d request lines, want 4:\n%s", len(want), strings.Join(want, ""))
	}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("LineWriter lines\n%s\nslog lines\n%s", strings.Join(got, ""), strings.Join(want, ""))
	}
}

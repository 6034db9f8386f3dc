package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestChatBody(t *testing.T) {
	for _, tt := range []struct {
		promptBytes int
		stream      bool
	}{{0, false}, {0, true}, {50 << 10, false}, {50 << 10, true}} {
		t.Run(fmt.Sprintf("%d-stream=%v", tt.promptBytes, tt.stream), func(t *testing.T) {
			b := ChatBody(Model, tt.promptBytes, tt.stream)
			var req struct {
				Model    string `json:"model"`
				Stream   bool   `json:"stream"`
				Messages []struct {
					Role, Content string
				} `json:"messages"`
			}
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatalf("ChatBody is not JSON: %v", err)
			}
			if req.Model != Model || req.Stream != tt.stream || len(req.Messages) != 1 {
				t.Errorf("ChatBody = %+v", req)
			}
			if len(b) < tt.promptBytes || len(b) > tt.promptBytes+150 {
				t.Errorf("len(ChatBody(%d)) = %d", tt.promptBytes, len(b))
			}
		})
	}
}

// TestOpenLoopIssuesPlannedRequests: at rate r for d the scheduler sends
// exactly floor(r·d) requests, and it sends them without waiting for answers:
// the server holds every request until all of them have arrived, which would
// deadlock a load generator that waits for completions.
func TestOpenLoopIssuesPlannedRequests(t *testing.T) {
	const rate, d, want = 200, 100 * time.Millisecond, 20
	var n atomic.Int64
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n.Add(1) == want {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second): // fail rather than hang
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	tg := &Target{Name: "direct", URL: srv.URL, Key: "k", Client: NewClient(8)}
	o := openLoop(context.Background(), tg, ChatBody(Model, 0, false), false, rate, d)
	s := o.side("direct", false)
	if s.Planned != want || s.Sent != want || s.OK != want || s.Errors != 0 {
		t.Errorf("open loop: planned %d, sent %d, ok %d, errors %d (%v); want %d each and no errors",
			s.Planned, s.Sent, s.OK, s.Errors, s.ErrorSamples, want)
	}
	if got := n.Load(); got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
	if s.Latency.P50 <= 0 || len(o.lags) != want {
		t.Errorf("latency %+v, %d lags: want numbers for every request", s.Latency, len(o.lags))
	}
}

func TestOpenLoopStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := openLoop(ctx, &Target{URL: srv.URL, Client: NewClient(1)}, []byte("{}"), false, 1000, time.Second)
	if o.planned != 1000 || len(o.samples) != 0 {
		t.Errorf("canceled open loop: planned %d, sent %d; want 1000 planned, none sent", o.planned, len(o.samples))
	}
}

func TestClosedLoopCountsEveryAnswer(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	o := closedLoop(context.Background(), &Target{URL: srv.URL, Client: NewClient(4)}, []byte("{}"), false, 4, 50*time.Millisecond)
	s := o.side("direct", false)
	if int64(s.OK) != n.Load() || s.OK == 0 || s.Errors != 0 {
		t.Errorf("closed loop: ok %d, errors %d; server saw %d", s.OK, s.Errors, n.Load())
	}
}

func TestStreamTimings(t *testing.T) {
	events := []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for _, e := range events {
			fmt.Fprintf(w, "data: %s\n\n", e)
			rc.Flush()
		}
		if r.URL.Path != "/cut" {
			io.WriteString(w, "data: [DONE]\n\n")
		}
	}))
	defer srv.Close()
	tg := &Target{URL: srv.URL, Client: NewClient(1)}
	s := tg.do(context.Background(), []byte("{}"), true, time.Now())
	if s.err != nil || s.ttfb <= 0 || s.latency < s.ttfb || s.gap < 0 {
		t.Errorf("stream sample = %+v, want ttfb > 0, latency ≥ ttfb, no error", s)
	}
	tg.URL = srv.URL + "/cut"
	if s := tg.do(context.Background(), []byte("{}"), true, time.Now()); s.err == nil || !strings.Contains(s.err.Error(), "[DONE]") {
		t.Errorf("stream without [DONE]: err = %v, want one naming [DONE]", s.err)
	}
}

func TestErrorsAreCountedNotTimed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, `{"error":{"message":"boom"}}`)
	}))
	defer srv.Close()
	o := openLoop(context.Background(), &Target{URL: srv.URL, Client: NewClient(1)}, []byte("{}"), false, 100, 50*time.Millisecond)
	s := o.side("gateway", false)
	if s.Errors != 5 || s.OK != 0 || s.Latency != (Latency{}) {
		t.Errorf("side = %+v, want 5 errors, none ok, no latency", s)
	}
	if len(s.ErrorSamples) != 1 || !strings.Contains(s.ErrorSamples[0], "status 502") {
		t.Errorf("error samples = %q, want one naming status 502", s.ErrorSamples)
	}
}

package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

const streamBody = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"What is the capital of Mexico?"}]}`

// faultConfig gives the provider short timeouts so timeout faults are quick,
// and turns retries off: these tests map one upstream answer to what the
// client gets (routing_test.go covers retries and fallbacks).
const faultConfig = `
providers:
  - name: oai
    type: openai
    base_url: "{{UP}}/v1"
    api_keys: ["${UPSTREAM_KEY}"]
    timeouts: {connect: 1s, first_byte: 300ms, total: 2s}
models:
  - name: gpt-4o
    targets: [{provider: oai, model: gpt-4o}]
    retries: 0
`

// TestUpstreamFaults drives every emulator fault through the gateway and
// checks the status and body the client gets (DESIGN.md §4, §5).
func TestUpstreamFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  string
		body   string
		status int
		code   string // error code in the body, or in the final stream event
		inMsg  string
		header [2]string
		// streamed: the answer is a 200 stream whose last event is an error.
		streamed bool
	}{
		{name: "429 with retry-after", fault: "status=429;header=retry-after:7", body: chatBody, status: 429, code: "rate_limit_exceeded", inMsg: `provider "oai"`, header: [2]string{"Retry-After", "7"}},
		{name: "insufficient quota", fault: "status=429;code=insufficient_quota", body: chatBody, status: 429, code: "insufficient_quota"},
		{name: "500", fault: "status=500", body: chatBody, status: 500, inMsg: `provider "oai"`},
		{name: "503 gets retry-after", fault: "status=503", body: chatBody, status: 503, header: [2]string{"Retry-After", "1"}},
		{name: "401 upstream", fault: "status=401", body: chatBody, status: 401},
		{name: "html page", fault: "body=html", body: chatBody, status: 502, code: "bad_upstream_response", inMsg: "text/html"},
		{name: "html error page", fault: "status=503;body=html", body: chatBody, status: 502, code: "bad_upstream_response", inMsg: "HTTP 503"},
		{name: "truncated json", fault: "body=truncated", body: chatBody, status: 502, code: "bad_upstream_response", inMsg: "not valid JSON"},
		{name: "invalid json", fault: "body=invalid", body: chatBody, status: 502, code: "bad_upstream_response", inMsg: "not valid JSON"},
		{name: "wrong content type", fault: "content_type=text/plain", body: chatBody, status: 502, code: "bad_upstream_response", inMsg: "text/plain"},
		{name: "connection reset", fault: "reset", body: chatBody, status: 502, code: "bad_upstream_response", inMsg: "oai"},
		{name: "cut non-stream", fault: "cut_after=1", body: chatBody, status: 502, code: "bad_upstream_response"},
		{name: "first byte timeout", fault: "latency=1s", body: chatBody, status: 504, code: "upstream_timeout", inMsg: "first_byte"},
		{name: "first byte timeout after headers", fault: "first_byte=1s", body: chatBody, status: 504, code: "upstream_timeout", inMsg: "first_byte"},
		{name: "stream first byte timeout", fault: "first_byte=1s", body: streamBody, status: 504, code: "upstream_timeout", inMsg: "first_byte"},
		{name: "stream 429", fault: "status=429", body: streamBody, status: 429, code: "rate_limit_exceeded"},
		{name: "stream html", fault: "body=html", body: streamBody, status: 502, code: "bad_upstream_response", inMsg: "text/html"},
		{name: "stream reset", fault: "reset", body: streamBody, status: 502, code: "bad_upstream_response"},
		{name: "stream cut after 3", fault: "cut_after=3", body: streamBody, status: 200, streamed: true, code: "bad_upstream_response", inMsg: "incomplete"},
		{name: "stream error event", fault: "error_after=2", body: streamBody, status: 200, streamed: true, inMsg: "server had an error"},
		{name: "stream total timeout", fault: "chunk_delay=400ms", body: streamBody, status: 200, streamed: true, code: "upstream_timeout", inMsg: "total"},
		{name: "slow but in time", fault: "latency=100ms", body: chatBody, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, emulator.Options{Faults: tc.fault})
			gw := newGateway(t, faultConfig, up)
			res := do(t, "POST", gw.URL+"/v1/chat/completions", tc.body)
			if res.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", res.status, tc.status, res.body)
			}
			if h := tc.header[0]; h != "" && res.header.Get(h) != tc.header[1] {
				t.Errorf("header %s = %q, want %q", h, res.header.Get(h), tc.header[1])
			}
			var msg, code string
			switch {
			case tc.status == 200 && !tc.streamed:
				return
			case tc.streamed:
				events := sseEvents(t, res.body)
				if len(events) < 2 {
					t.Fatalf("stream events = %q, want some chunks then an error", events)
				}
				last := events[len(events)-1]
				if last == "[DONE]" {
					t.Fatalf("stream ended with [DONE], want a final error event: %q", events)
				}
				// The gateway's own error event carries the request id; an
				// upstream's error event is passed on as it came.
				var e errorBody
				if err := json.Unmarshal([]byte(last), &e); err != nil || e.Error.Message == "" {
					t.Fatalf("last event %q is not an OpenAI error (err %v)", last, err)
				}
				if e.Error.Code != nil && e.Error.RequestID != res.header.Get("X-Request-Id") {
					t.Errorf("stream error request_id = %q, want %q", e.Error.RequestID, res.header.Get("X-Request-Id"))
				}
				msg = e.Error.Message
				if e.Error.Code != nil {
					code = *e.Error.Code
				}
				if strings.Count(res.body, `"role":"assistant"`) > 1 {
					t.Errorf("the stream was replayed: %s", res.body)
				}
			default:
				e := parseError(t, res)
				msg = e.Error.Message
				if e.Error.Code != nil {
					code = *e.Error.Code
				}
			}
			if tc.code != "" && code != tc.code {
				t.Errorf("code = %q, want %q; message %q", code, tc.code, msg)
			}
			if !strings.Contains(msg, tc.inMsg) {
				t.Errorf("message %q does not mention %q", msg, tc.inMsg)
			}
		})
	}
}

// TestClientDisconnectCancelsUpstream: a client that goes away mid-stream
// cancels the upstream request at once (DESIGN.md §5).
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	up := newUpstream(t, emulator.Options{Faults: "chunk_delay=200ms"})
	gw := newGateway(t, basicConfig, up)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", gw.URL+"/v1/chat/completions", strings.NewReader(streamBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line = %q, %v; want a data line", line, err)
	}
	start := time.Now()
	cancel()
	resp.Body.Close()
	rec := up.next(t)
	if !rec.Canceled {
		t.Errorf("upstream request was not canceled when the client went away")
	}
	t.Logf("upstream saw the cancel %v after the client left", time.Since(start))
	waitFor(t, func() bool { return strings.Contains(gw.log.String(), "status=499") }, "request logged as 499")
}

func TestClientDisconnectBeforeAnswer(t *testing.T) {
	up := newUpstream(t, emulator.Options{Faults: "latency=1s"})
	gw := newGateway(t, basicConfig, up)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", gw.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("want the client's own timeout")
	}
	if rec := up.next(t); !rec.Canceled {
		t.Errorf("upstream request was not canceled")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProviderHeaders: a provider's configured headers reach the upstream on
// every request — here the emulator's per-request fault header.
func TestProviderHeaders(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	cfg := strings.Replace(faultConfig, "    api_keys:", "    headers: {x-mock-fault: \"status=429;times=1\", OpenAI-Project: proj_1}\n    api_keys:", 1)
	gw := newGateway(t, cfg, up)
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", chatBody); res.status != 429 {
		t.Errorf("first request: %d, want the scripted 429", res.status)
	}
	if rec := up.next(t); rec.Header.Get("Openai-Project") != "proj_1" {
		t.Errorf("upstream headers = %v, want OpenAI-Project", rec.Header)
	}
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", chatBody); res.status != 200 {
		t.Errorf("second request: %d, want 200 after times=1", res.status)
	}
}

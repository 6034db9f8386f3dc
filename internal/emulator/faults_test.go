package emulator

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		spec    string
		want    string // canonical String(); ignored on error
		wantErr string // substring of the error; "" for success
	}{
		{"", "", ""},
		{" ; , ", "", ""},
		{"status=429;header=retry-after:1;times=1", "status=429;header=retry-after:1;times=1", ""},
		{"latency=50ms,first_byte=1s, chunk_delay=20", "latency=50ms;first_byte=1s;chunk_delay=20ms", ""},
		{"body=html;status=502", "status=502;body=html", ""},
		{"cut_after=0;error_after=3;reset;after=2", "cut_after=0;error_after=3;reset;after=2", ""},
		{"content_type=text/plain;code=insufficient_quota", "code=insufficient_quota;content_type=text/plain", ""},
		{"reset=false", "", ""},
		{"bogus=1", "", `"bogus=1"`},
		{"status=abc", "", `"status=abc"`},
		{"status=99", "", "between 200 and 599"},
		{"latency=-1s", "", `"latency=-1s"`},
		{"latency=soon", "", "duration"},
		{"body=xml", "", `"body=xml"`},
		{"header=novalue", "", `"header=novalue"`},
		{"times=0", "", "at least 1"},
		{"cut_after=-1", "", `"cut_after=-1"`},
		{"status", "", "missing value"},
		{"wat", "", `"wat": unknown`},
	}
	for _, tt := range tests {
		f, err := ParseFaults(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFaults(%q) error = %v, want one containing %s", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFaults(%q) = %v", tt.spec, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("ParseFaults(%q).String() = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

func TestBadFaultSpec(t *testing.T) {
	if _, err := New(Options{Faults: "bogus"}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("New with bad Faults = %v, want an error naming bogus", err)
	}
	e, srv := newServer(t, Options{Faults: "status=500"})
	if err := e.SetFaults("status=nope"); err == nil {
		t.Errorf("SetFaults(status=nope) = nil, want an error")
	}
	resp, _ := mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody})
	if resp.StatusCode != 500 {
		t.Errorf("after a rejected SetFaults, status = %d, want the old default 500", resp.StatusCode)
	}
	resp, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"x-mock-fault": "status=abc"}})
	if resp.StatusCode != 400 || !strings.Contains(string(body), `status=abc`) || !strings.Contains(string(body), `"param": "x-mock-fault"`) {
		t.Errorf("bad x-mock-fault: status %d body %s, want 400 naming status=abc", resp.StatusCode, body)
	}
	// An empty header overrides the default with "no faults".
	resp, _ = mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"x-mock-fault": ""}})
	if resp.StatusCode != 200 {
		t.Errorf("empty x-mock-fault: status %d, want 200", resp.StatusCode)
	}
	if err := e.SetFaults(""); err != nil {
		t.Fatal(err)
	}
	resp, _ = mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody})
	if resp.StatusCode != 200 {
		t.Errorf("after SetFaults(\"\"), status = %d, want 200", resp.StatusCode)
	}
}

func TestFaultStatusAndBody(t *testing.T) {
	_, srv := newServer(t, Options{})
	fixtureBody := func(name string) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			if diff := cmp.Diff(string(readFixture(t, name)), string(body)); diff != "" {
				t.Errorf("body differs from %s (-want +got):\n%s", name, diff)
			}
		}
	}
	contains := func(s string) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			if !strings.Contains(string(body), s) {
				t.Errorf("body = %s, want it to contain %q", body, s)
			}
		}
	}
	notJSON := func(t *testing.T, body []byte) {
		var v any
		if err := json.Unmarshal(body, &v); err == nil {
			t.Errorf("body %s decodes as JSON, want it broken", body)
		}
	}
	tests := []struct {
		name, fault string
		stream      bool
		wantStatus  int
		wantType    string
		wantHeaders map[string][]string
		check       func(t *testing.T, body []byte)
	}{
		{"400", "status=400", false, 400, "application/json", nil, fixtureBody("openai/error-400-invalid-request.response.json")},
		{"401", "status=401", false, 401, "application/json", nil, fixtureBody("openai/error-401-invalid-api-key.response.json")},
		{"404", "status=404", false, 404, "application/json", nil, contains("The model `gpt-4o` does not exist")},
		{"429", "status=429", false, 429, "application/json; charset=utf-8",
			map[string][]string{"Retry-After": {"1"}, "X-Ratelimit-Remaining-Tokens": {"0"}},
			fixtureBody("openai/error-429-rate-limit.response.json")},
		{"429 on a stream", "status=429", true, 429, "application/json; charset=utf-8", nil, fixtureBody("openai/error-429-rate-limit.response.json")},
		{"429 insufficient_quota", "status=429;code=insufficient_quota", false, 429, "application/json", nil, fixtureBody("openai/error-429-insufficient-quota.response.json")},
		{"500", "status=500", false, 500, "application/json", nil, fixtureBody("openai/error-500-server-error.response.json")},
		{"503", "status=503", false, 503, "application/json", nil, func(t *testing.T, body []byte) {
			want := "{\n  \"error\": {\n    \"message\": \"The engine is currently overloaded, please try again later.\",\n    \"type\": \"server_error\",\n    \"param\": null,\n    \"code\": null\n  }\n}"
			if string(body) != want {
				t.Errorf("body = %q, want %q", body, want)
			}
		}},
		{"other status", "status=418", false, 418, "application/json", nil, contains(`"type": "server_error"`)},
		{"headers", "header=retry-after:7;header=x-a:1;header=x-a:2", false, 200, "application/json",
			map[string][]string{"Retry-After": {"7"}, "X-A": {"1", "2"}}, contains(`"object": "chat.completion"`)},
		{"header replaces", "header=x-request-id:mine", false, 200, "application/json", map[string][]string{"X-Request-Id": {"mine"}}, nil},
		{"html", "body=html", false, 200, "text/html", nil, contains("<title>502 Bad Gateway</title>")},
		{"html with status", "body=html;status=503", false, 503, "text/html", nil, contains("<title>503 Service Unavailable</title>")},
		{"invalid", "body=invalid", false, 200, "application/json", nil, notJSON},
		{"invalid with status", "status=500;body=invalid", false, 500, "application/json", nil, notJSON},
		{"truncated", "body=truncated", false, 200, "application/json", nil, func(t *testing.T, body []byte) {
			notJSON(t, body)
			if !strings.HasPrefix(string(body), "{\n  \"id\": \"chatcmpl-") {
				t.Errorf("truncated body = %q, want the start of a completion", body)
			}
		}},
		{"truncated stream", "body=truncated", true, 200, "text/event-stream; charset=utf-8", nil, func(t *testing.T, body []byte) {
			if !strings.HasPrefix(string(body), "data: {") || strings.Contains(string(body), "[DONE]") {
				t.Errorf("truncated stream = %q, want half the events", body)
			}
		}},
		{"content type", "content_type=text/plain", false, 200, "text/plain", nil, contains(`"object": "chat.completion"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := chatBody
			if tt.stream {
				body = streamBody
			}
			resp, got := mustSend(t, srv, call{path: "/v1/chat/completions", body: body, header: map[string]string{"x-mock-fault": tt.fault}})
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantType)
			}
			for k, want := range tt.wantHeaders {
				if diff := cmp.Diff(want, resp.Header.Values(k)); diff != "" {
					t.Errorf("header %s mismatch (-want +got):\n%s", k, diff)
				}
			}
			if strings.HasPrefix(tt.fault, "body=truncated") && resp.ContentLength != -1 {
				t.Errorf("truncated answer has Content-Length %d, want none", resp.ContentLength)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestFaultCutAfter(t *testing.T) {
	done := make(chan Recorded, 4)
	_, srv := newServer(t, Options{OnDone: func(r Recorded) { done <- r }})
	t.Run("stream", func(t *testing.T) {
		resp, body, err := send(t, srv, call{path: "/v1/chat/completions", body: streamBody, header: map[string]string{"x-mock-fault": "cut_after=2"}})
		if err == nil {
			t.Fatalf("read the whole stream without error: %q", body)
		}
		if resp.StatusCode != 200 {
			t.Errorf("status = %d, want 200", resp.StatusCode)
		}
		if n := strings.Count(string(body), "data: "); n != 2 || strings.Contains(string(body), "[DONE]") {
			t.Errorf("got %d events before the cut (want 2, no [DONE]):\n%s", n, body)
		}
		if r := <-done; r.Canceled || r.Fault != "cut_after=2" {
			t.Errorf("recorded %+v, want not canceled with fault cut_after=2", r)
		}
	})
	t.Run("non-stream", func(t *testing.T) {
		_, body, err := send(t, srv, call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"x-mock-fault": "cut_after=1"}})
		if err == nil {
			t.Fatalf("read the whole body without error: %q", body)
		}
		<-done
	})
}

func TestFaultErrorAfter(t *testing.T) {
	_, srv := newServer(t, Options{})
	tests := []struct {
		fault      string
		wantEvents int // data events before the error event
	}{
		{"error_after=0", 0},
		{"error_after=3", 3},
		{"error_after=100", 11}, // all chunks, then the error instead of [DONE]
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			_, body, err := send(t, srv, call{path: "/v1/chat/completions", body: streamBody, header: map[string]string{"x-mock-fault": tt.fault}})
			if err != nil {
				t.Fatalf("stream ended with %v, want a clean EOF", err)
			}
			ev := events(string(body))
			if len(ev) != tt.wantEvents+2 || ev[len(ev)-1] != "" {
				t.Fatalf("got %d events, want %d then the error:\n%s", len(ev)-1, tt.wantEvents, body)
			}
			if got := ev[len(ev)-2]; got != string(streamErrorEvent) {
				t.Errorf("last event = %q, want %q", got, streamErrorEvent)
			}
			if strings.Contains(string(body), "[DONE]") {
				t.Errorf("stream has [DONE] after the error")
			}
		})
	}
}

func TestFaultReset(t *testing.T) {
	done := make(chan Recorded, 1)
	_, srv := newServer(t, Options{OnDone: func(r Recorded) { done <- r }})
	_, _, err := send(t, srv, call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"x-mock-fault": "reset"}})
	if err == nil {
		t.Fatal("reset: got an answer, want a connection error")
	}
	if r := <-done; r.Fault != "reset" {
		t.Errorf("recorded fault %q, want reset", r.Fault)
	}
}

func TestFaultDelays(t *testing.T) {
	_, srv := newServer(t, Options{})
	const d = 50 * time.Millisecond
	t.Run("latency", func(t *testing.T) {
		start := time.Now()
		mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"x-mock-fault": "latency=50ms"}})
		if el := time.Since(start); el < d {
			t.Errorf("answer after %v, want at least %v", el, d)
		}
	})
	t.Run("first_byte", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/v1/chat/completions", strings.NewReader(chatBody))
		req.Header.Set("x-mock-fault", "first_byte=50ms")
		start := time.Now()
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status = %d", resp.StatusCode)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < d {
			t.Errorf("body complete after %v, want at least %v", el, d)
		}
		if !json.Valid(body) {
			t.Errorf("body is not JSON: %s", body)
		}
	})
	t.Run("chunk_delay", func(t *testing.T) {
		start := time.Now()
		// "a b" streams 5 events (role, "a", " b", finish, [DONE]): 4 gaps.
		_, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: `{"model":"m","messages":[],"stream":true}`,
			header: map[string]string{"x-mock-fault": "chunk_delay=20ms", "x-mock-reply": "a b"}})
		if el := time.Since(start); el < 4*20*time.Millisecond {
			t.Errorf("stream took %v, want at least 80ms", el)
		}
		if n := len(events(string(body))) - 1; n != 5 {
			t.Errorf("%d events, want 5", n)
		}
	})
}

func TestFaultTimesAndAfter(t *testing.T) {
	e, srv := newServer(t, Options{})
	tests := []struct {
		spec string
		want []int
	}{
		{"status=429;times=1", []int{429, 200, 200}},
		{"status=500;times=2", []int{500, 500, 200}},
		{"status=503;after=1", []int{200, 503, 503}},
		{"status=502;after=1;times=1", []int{200, 502, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			e.Reset()
			var got []int
			for range tt.want {
				resp, _ := mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"x-mock-fault": tt.spec}})
				got = append(got, resp.StatusCode)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses mismatch (-want +got):\n%s", diff)
			}
			var faults []string
			for i, r := range e.Requests() {
				if tt.want[i] != 200 {
					faults = append(faults, r.Fault)
				} else if r.Fault != "" {
					t.Errorf("request %d answered normally but recorded fault %q", i, r.Fault)
				}
			}
			for _, f := range faults {
				if f != tt.spec {
					t.Errorf("recorded fault %q, want %q", f, tt.spec)
				}
			}
		})
	}
	t.Run("default spec and reset counters", func(t *testing.T) {
		e.Reset()
		if err := e.SetFaults("status=429;times=1"); err != nil {
			t.Fatal(err)
		}
		defer e.SetFaults("")
		var got []int
		for i := range 3 {
			if i == 2 {
				e.Reset()
			}
			resp, _ := mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody})
			got = append(got, resp.StatusCode)
		}
		if diff := cmp.Diff([]int{429, 200, 429}, got); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestClientCancelIsRecorded(t *testing.T) {
	tests := []struct {
		name, body, fault string
	}{
		{"mid-stream", streamBody, "chunk_delay=50ms"},
		{"during latency", chatBody, "latency=5s"},
		{"before first byte", chatBody, "first_byte=5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan Recorded, 1)
			_, srv := newServer(t, Options{OnDone: func(r Recorded) { done <- r }})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions", strings.NewReader(tt.body))
			req.Header.Set("x-mock-fault", tt.fault)
			if strings.Contains(tt.fault, "latency") {
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			resp, err := srv.Client().Do(req)
			if err == nil {
				// Headers are in; read one event (or wait a moment), then go away.
				if strings.Contains(tt.fault, "chunk_delay") {
					if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
						t.Fatal(err)
					}
				}
				cancel()
				resp.Body.Close()
			} else if !errors.Is(err, context.Canceled) {
				t.Fatalf("Do = %v, want success or context.Canceled", err)
			}
			select {
			case r := <-done:
				if !r.Canceled {
					t.Errorf("recorded %+v, want Canceled", r)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("OnDone not called within 3s of the client leaving")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	d := Describe()
	for _, item := range []string{"latency=", "first_byte=", "chunk_delay=", "status=", "code=", "header=", "body=html", "body=truncated", "body=invalid", "content_type=", "cut_after=", "error_after=", "reset", "times=", "after=", "x-mock-fault", "x-mock-reply"} {
		if !strings.Contains(d, item) {
			t.Errorf("Describe() does not mention %s", item)
		}
	}
}

// Without a hijackable connection (HTTP/2, in-process callers) reset falls
// back to aborting the handler, and the request is still recorded.
func TestFaultResetWithoutHijack(t *testing.T) {
	var got []Recorded
	e, err := New(Options{Faults: "reset", OnDone: func(r Recorded) { got = append(got, r) }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("ServeHTTP panicked with %v, want http.ErrAbortHandler", p)
		}
		if len(got) != 1 || got[0].Fault != "reset" {
			t.Errorf("OnDone records = %+v, want one with fault reset", got)
		}
	}()
	req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(chatBody))
	e.ServeHTTP(httptest.NewRecorder(), req)
}

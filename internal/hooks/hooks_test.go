package hooks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

const secret = "Bearer s3cr3t-token"

// hookServer starts a hook service answering with handler, and a Hook of
// cfg (URL, Name and Stage defaulted) calling it.
func hookServer(t *testing.T, cfg Config, handler http.HandlerFunc) *Hook {
	t.Helper()
	srv := httptest.NewServer(handler)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	if cfg.URL == "" {
		cfg.URL = srv.URL + "/hook"
	}
	if cfg.Name == "" {
		cfg.Name = "guard"
	}
	if cfg.Stage == "" {
		cfg.Stage = StagePre
	}
	h, err := New(cfg, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// answer is a handler answering with status and body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func baseRequest() Request {
	return Request{
		RequestID: "req-1",
		Key:       "team-a-key",
		Team:      "team-a",
		Model:     "gpt-4o",
		Endpoint:  "/v1/chat/completions",
		Body:      jsontext.Value(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`),
	}
}

func TestNew(t *testing.T) {
	ok := Config{Name: "g", URL: "https://hooks.example/x", Stage: StagePre}
	h, err := New(ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Timeout() != DefaultTimeout || h.FailOpen() || h.Name() != "g" || h.Stage() != StagePre {
		t.Errorf("defaults: timeout %v failOpen %v name %q stage %q", h.Timeout(), h.FailOpen(), h.Name(), h.Stage())
	}
	bad := map[string]func(*Config){
		"no name":       func(c *Config) { c.Name = " " },
		"bad scheme":    func(c *Config) { c.URL = "ftp://x/y" },
		"no scheme":     func(c *Config) { c.URL = "hooks.example/x" },
		"no host":       func(c *Config) { c.URL = "http:///x" },
		"unparsable":    func(c *Config) { c.URL = "http://[::1" },
		"bad stage":     func(c *Config) { c.Stage = "during" },
		"empty stage":   func(c *Config) { c.Stage = "" },
		"neg timeout":   func(c *Config) { c.Timeout = -time.Second },
		"header name":   func(c *Config) { c.Headers = map[string]string{"Bad Name": "x"} },
		"header value":  func(c *Config) { c.Headers = map[string]string{"Authorization": secret + "\r\nX: y"} },
		"empty hdrname": func(c *Config) { c.Headers = map[string]string{"": "x"} },
	}
	for name, mod := range bad {
		t.Run(name, func(t *testing.T) {
			c := ok
			mod(&c)
			_, err := New(c, nil)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the header value: %v", err)
			}
		})
	}
}

func TestAllow(t *testing.T) {
	for _, body := range []string{`{}`, `{"action":""}`, `{"action":"allow","extra":1}`} {
		h := hookServer(t, Config{}, answer(200, body))
		d, ref, err := h.Run(t.Context(), baseRequest())
		if err != nil || ref != nil {
			t.Fatalf("%s: Run: %v, %v", body, ref, err)
		}
		if d.Action != ActionAllow {
			t.Errorf("%s: action %q, want allow", body, d.Action)
		}
	}
}

func TestDeny(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		h := hookServer(t, Config{Name: "pii", FailOpen: failOpen}, answer(200, `{"action":"deny","reason":"contains a credit card number"}`))
		d, ref, err := h.Run(t.Context(), baseRequest())
		if err != nil {
			t.Fatalf("Run error: %v", err)
		}
		want := &Refusal{Hook: "pii", Reason: "contains a credit card number"}
		if diff := cmp.Diff(want, ref); diff != "" {
			t.Fatalf("refusal (-want +got):\n%s", diff)
		}
		if d.Action != "" {
			t.Errorf("decision %+v with a refusal", d)
		}
		if ref.StatusCode() != 403 || ref.Message() != "contains a credit card number" {
			t.Errorf("status %d message %q", ref.StatusCode(), ref.Message())
		}
		if got := ref.Error(); !strings.Contains(got, `"pii"`) || !strings.Contains(got, "credit card") {
			t.Errorf("Error() = %q", got)
		}
	}
	h := hookServer(t, Config{}, answer(200, `{"action":"deny"}`))
	_, ref, _ := h.Run(t.Context(), baseRequest())
	if ref == nil || ref.Failed || ref.Message() != "request denied by policy" {
		t.Errorf("deny without reason: %+v", ref)
	}
}

func TestModify(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"be nice"},{"role":"developer","content":"dev"},{"role":"user","content":"q"}],"metadata":{"a":"1","team":"client"},"stream":false}`)
	tests := []struct {
		name, answer, want string
	}{{
		name:   "start after system",
		answer: `{"action":"modify","messages":[{"role":"system","content":"context: X"}],"metadata":{"team":"hook","z":"26","b":"2"}}`,
		want:   `{"model":"gpt-4o","messages":[{"role":"system","content":"be nice"},{"role":"developer","content":"dev"},{"role":"system","content":"context: X"},{"role":"user","content":"q"}],"metadata":{"a":"1","team":"hook","b":"2","z":"26"},"stream":false}`,
	}, {
		name:   "end",
		answer: `{"action":"modify","position":"end","messages":[{"role":"user", "content":"ctx1"},{"role":"assistant","content":"ok"}]}`,
		want:   `{"model":"gpt-4o","messages":[{"role":"system","content":"be nice"},{"role":"developer","content":"dev"},{"role":"user","content":"q"},{"role":"user","content":"ctx1"},{"role":"assistant","content":"ok"}],"metadata":{"a":"1","team":"client"},"stream":false}`,
	}, {
		name:   "metadata only",
		answer: `{"action":"modify","metadata":{"x":"y"}}`,
		want:   `{"model":"gpt-4o","messages":[{"role":"system","content":"be nice"},{"role":"developer","content":"dev"},{"role":"user","content":"q"}],"metadata":{"a":"1","team":"client","x":"y"},"stream":false}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hookServer(t, Config{}, answer(200, tt.answer))
			d, ref, err := h.Run(t.Context(), baseRequest())
			if err != nil || ref != nil {
				t.Fatalf("Run: %v, %v", ref, err)
			}
			if d.Action != ActionModify {
				t.Fatalf("action %q", d.Action)
			}
			got, err := Apply(body, d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a gone client only once the body is read
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, `{}`)
	}
	t.Run("fail closed", func(t *testing.T) {
		h := hookServer(t, Config{Timeout: 50 * time.Millisecond}, slow)
		start := time.Now()
		d, ref, err := h.Run(t.Context(), baseRequest())
		if time.Since(start) > 3*time.Second {
			t.Errorf("Run took %v", time.Since(start))
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want a deadline", err)
		}
		if ref == nil || !ref.Failed || ref.Hook != "guard" || !errors.Is(ref, context.DeadlineExceeded) {
			t.Fatalf("refusal %+v", ref)
		}
		if ref.StatusCode() != 503 || ref.Message() != "guardrail unavailable" {
			t.Errorf("status %d message %q", ref.StatusCode(), ref.Message())
		}
		if d.Action != "" {
			t.Errorf("decision %+v", d)
		}
	})
	t.Run("fail open", func(t *testing.T) {
		h := hookServer(t, Config{Timeout: 50 * time.Millisecond, FailOpen: true}, slow)
		d, ref, err := h.Run(t.Context(), baseRequest())
		if ref != nil {
			t.Fatalf("refusal %+v", ref)
		}
		if d.Action != ActionAllow {
			t.Errorf("action %q", d.Action)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"guard"`) {
			t.Errorf("error %v", err)
		}
	})
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name    string
		stage   string
		handler http.HandlerFunc
		is      error
	}{
		{"500", "", answer(500, `{"action":"allow"}`), ErrStatus},
		{"404", "", answer(404, `nope`), ErrStatus},
		{"redirect not followed", "", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, ErrStatus},
		{"invalid json", "", answer(200, `{"action":"allow"`), ErrBadAnswer},
		{"not json", "", answer(200, `allow`), ErrBadAnswer},
		{"empty", "", answer(200, ``), ErrBadAnswer},
		{"wrong type", "", answer(200, `{"action":1}`), ErrBadAnswer},
		{"unknown action", "", answer(200, `{"action":"block"}`), ErrBadAnswer},
		{"case matters", "", answer(200, `{"action":"DENY"}`), ErrBadAnswer},
		{"unknown position", "", answer(200, `{"action":"modify","position":"middle","messages":[{"role":"user","content":"x"}]}`), ErrBadAnswer},
		{"message not object", "", answer(200, `{"action":"modify","messages":["x"]}`), ErrBadAnswer},
		{"message without role", "", answer(200, `{"action":"modify","messages":[{"content":"x"}]}`), ErrBadAnswer},
		{"modify from post", StagePost, answer(200, `{"action":"modify","metadata":{"a":"b"}}`), ErrBadAnswer},
		{"too large", "", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"action":"allow","reason":"`+strings.Repeat("x", MaxAnswerBytes)+`"}`)
		}, ErrBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Name: "policy", Stage: tt.stage, Headers: map[string]string{"Authorization": secret}}
			h := hookServer(t, cfg, tt.handler)
			if _, err := h.Call(t.Context(), baseRequest()); !errors.Is(err, tt.is) {
				t.Errorf("Call error %v, want %v", err, tt.is)
			}
			_, ref, err := h.Run(t.Context(), baseRequest())
			if ref == nil || !ref.Failed || !errors.Is(err, tt.is) || !errors.Is(ref, tt.is) {
				t.Fatalf("fail closed: %+v, %v", ref, err)
			}
			if !strings.Contains(err.Error(), `hook "policy"`) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q: want the hook name and no secret", err)
			}
			cfg.FailOpen = true
			h = hookServer(t, cfg, tt.handler)
			d, ref, err := h.Run(t.Context(), baseRequest())
			if ref != nil || d.Action != ActionAllow || !errors.Is(err, tt.is) {
				t.Errorf("fail open: %+v, %+v, %v", d, ref, err)
			}
		})
	}
}

func TestConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	h, err := New(Config{Name: "down", URL: url, Stage: StagePre}, &http.Client{Transport: &http.Transport{}})
	if err != nil {
		t.Fatal(err)
	}
	_, ref, err := h.Run(t.Context(), baseRequest())
	if err == nil || ref == nil || !ref.Failed {
		t.Fatalf("Run: %+v, %v", ref, err)
	}
}

func TestRequestSent(t *testing.T) {
	// Odd whitespace, escapes and member order must reach the hook as is.
	body := "{ \"model\" : \"gpt-4o\",\n  \"messages\": [ {\"role\":\"user\",\"content\":\"caf\\u00e9 \\/ \u00e9\"} ],\"z\":1.50e0, \"a\":null }"
	response := `{"id":"chatcmpl-1", "choices":[{"message":{"role":"assistant","content":"hello"}}]}`
	type seen struct {
		method, path, ctype, auth, extra string
		raw                              []byte
	}
	var mu sync.Mutex
	var got []seen
	handler := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-Hook-Tenant"), b})
		mu.Unlock()
		io.WriteString(w, `{"action":"allow"}`)
	}
	for _, stage := range []string{StagePre, StagePost} {
		t.Run(stage, func(t *testing.T) {
			got = nil
			h := hookServer(t, Config{Stage: stage, Headers: map[string]string{"Authorization": secret, "x-hook-tenant": "acme"}}, handler)
			req := baseRequest()
			req.Body = jsontext.Value(body)
			if stage == StagePost {
				req.Response = jsontext.Value(response)
			}
			if _, ref, err := h.Run(t.Context(), req); err != nil || ref != nil {
				t.Fatalf("Run: %v %v", ref, err)
			}
			if len(got) != 1 {
				t.Fatalf("%d calls", len(got))
			}
			s := got[0]
			if s.method != "POST" || s.path != "/hook" || s.ctype != "application/json" || s.auth != secret || s.extra != "acme" {
				t.Errorf("request %s %s content-type %q auth %q tenant %q", s.method, s.path, s.ctype, s.auth, s.extra)
			}
			if !jsontext.Value(s.raw).IsValid() {
				t.Fatalf("invalid JSON sent: %s", s.raw)
			}
			var members map[string]jsontext.Value
			if err := json.Unmarshal(s.raw, &members); err != nil {
				t.Fatal(err)
			}
			if string(members["body"]) != body {
				t.Errorf("body sent\n%s\nwant byte-identical\n%s", members["body"], body)
			}
			type fields struct {
				Stage     string `json:"stage"`
				RequestID string `json:"request_id"`
				Key       string `json:"key"`
				Team      string `json:"team"`
				Model     string `json:"model"`
				Endpoint  string `json:"endpoint"`
			}
			var r fields
			if err := json.Unmarshal(s.raw, &r); err != nil {
				t.Fatal(err)
			}
			want := fields{stage, "req-1", "team-a-key", "team-a", "gpt-4o", "/v1/chat/completions"}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			resp, has := members["response"]
			if stage == StagePre && has {
				t.Errorf("pre hook told a response: %s", resp)
			}
			if stage == StagePost && string(resp) != response {
				t.Errorf("response sent %s, want %s", resp, response)
			}
		})
	}
}

func TestRequestJSON(t *testing.T) {
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Stage: "pre", RequestID: "r", Model: "m", Endpoint: "/e"},
			`{"stage":"pre","request_id":"r","model":"m","endpoint":"/e","body":null}`},
		{Request{Stage: "post", RequestID: "r\"", Key: "k", Team: "t", Model: "m", Endpoint: "/e", Body: jsontext.Value(` {"a" : 1} `), Response: jsontext.Value(`[1]`)},
			`{"stage":"post","request_id":"r\"","key":"k","team":"t","model":"m","endpoint":"/e","body": {"a" : 1} ,"response":[1]}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.req)
		if err != nil {
			t.Fatal(err)
		}
		// json.Marshal reformats what MarshalJSON returns; appendJSON is what is sent.
		raw, _ := tt.req.appendJSON(nil)
		if string(raw) != tt.want {
			t.Errorf("appendJSON = %s, want %s", raw, tt.want)
		}
		if !jsontext.Value(b).IsValid() {
			t.Errorf("Marshal = %s", b)
		}
	}
	if _, err := json.Marshal(Request{Body: jsontext.Value(`{"a":`)}); err == nil {
		t.Error("invalid body marshalled")
	}
	h := hookServer(t, Config{}, answer(200, `{}`))
	req := baseRequest()
	req.Body = jsontext.Value(`{"a":`)
	if _, err := h.Call(t.Context(), req); err == nil {
		t.Error("Call sent an invalid body")
	}
}

func TestCancel(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		started := make(chan struct{})
		h := hookServer(t, Config{Timeout: time.Minute, FailOpen: failOpen}, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			close(started)
			<-r.Context().Done()
		})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-started
			cancel()
		}()
		d, ref, err := h.Run(ctx, baseRequest())
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("failOpen %v: error %v, want canceled", failOpen, err)
		}
		if ref == nil || !ref.Failed || d.Action != "" {
			t.Errorf("failOpen %v: cancelled request not refused: %+v %+v", failOpen, d, ref)
		}
	}
	// Already cancelled: no call at all.
	h := hookServer(t, Config{FailOpen: true}, func(w http.ResponseWriter, r *http.Request) {
		t.Error("hook called with a cancelled context")
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Call(ctx, baseRequest()); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v", err)
	}
}

func TestRefusalError(t *testing.T) {
	r := &Refusal{Hook: "h", Failed: true}
	if r.Error() == "" || r.Unwrap() != nil {
		t.Error(r.Error())
	}
	r = &Refusal{Hook: "h"}
	if !strings.Contains(r.Error(), "denied") {
		t.Error(r.Error())
	}
}

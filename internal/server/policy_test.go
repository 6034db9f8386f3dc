package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// lastUpstream returns the next request the emulator finished.
func lastUpstream(t *testing.T, up *upstream) emulator.Recorded {
	t.Helper()
	select {
	case r := <-up.done:
		return r
	case <-time.After(2 * time.Second):
		t.Fatal("upstream saw no request")
		return emulator.Recorded{}
	}
}

func TestPIIPolicy(t *testing.T) {
	const reply = "Sure: write to jane.doe@example.com or call (555) 123-4567 today."
	up := newUpstream(t, emulator.Options{Reply: reply})
	g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, tenancyConfig+`
policy:
  pii:
    rules:
      - {name: email, action: redact}
      - {name: ssn, action: block}
      - {name: employee_id, pattern: "EMP-[0-9]{6}", action: redact}
  image_domains: [img.example.com]
policies:
  - name: strict
    pii: {rules: [{name: email}, {name: phone}], responses: true}
keys:
  - {name: normal, key: "${GATEWAY_KEY}"}
  - {name: strict, key: "sb-strict-key-123456", policy: strict}
`, up, "", "")
	url := g.URL + "/v1/chat/completions"
	msg := func(text string) string {
		return `{"model":"gpt-4o","messages":[{"role":"user","content":"` + text + `"}]}`
	}

	// Redacted before it leaves.
	if st, _, out := call(t, "POST", url, gatewayKey, msg("I am bob@corp.example, id EMP-123456")); st != 200 {
		t.Fatalf("chat = %d %s", st, out)
	}
	sent := string(lastUpstream(t, up).Body)
	if strings.Contains(sent, "bob@corp.example") || strings.Contains(sent, "EMP-123456") ||
		!strings.Contains(sent, "[REDACTED_EMAIL]") || !strings.Contains(sent, "[REDACTED_EMPLOYEE_ID]") {
		t.Errorf("upstream got %s; want the email and the employee id redacted", sent)
	}
	// Blocked: a 400 naming the rule, never the value, and nothing sent.
	st, _, out := call(t, "POST", url, gatewayKey, msg("my ssn is 123-45-6789"))
	wantError(t, "request with an SSN", st, out, 400, "pii_blocked", `\"ssn\"`)
	if strings.Contains(out, "123-45-6789") || strings.Contains(g.log.String(), "123-45-6789") {
		t.Errorf("the SSN was echoed: %s", out)
	}
	if n := upstreamCalls(up); n != 0 {
		t.Errorf("a blocked request reached upstream (%d calls)", n)
	}
	// Image URL allowlist.
	img := `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://evil.example.net/x.png"}}]}]}`
	st, _, out = call(t, "POST", url, gatewayKey, img)
	wantError(t, "image from an unapproved host", st, out, 400, "url_not_allowed", "evil.example.net")

	// The normal policy leaves answers alone; the strict key's redacts them,
	// streamed too (the emulator splits the reply over many chunks).
	_, _, out = call(t, "POST", url, gatewayKey, msg("hi"))
	if !strings.Contains(out, "jane.doe@example.com") {
		t.Errorf("default policy changed the answer: %s", out)
	}
	_, _, out = call(t, "POST", url, "sb-strict-key-123456", msg("hi"))
	if strings.Contains(out, "jane.doe@example.com") || strings.Contains(out, "123-4567") || !strings.Contains(out, "[REDACTED_EMAIL]") || !strings.Contains(out, "[REDACTED_PHONE]") {
		t.Errorf("strict answer = %s; want the email and phone redacted", out)
	}
	_, _, out = call(t, "POST", url, "sb-strict-key-123456", strings.Replace(msg("hi"), `"messages"`, `"stream":true,"messages"`, 1))
	var text strings.Builder
	for _, line := range strings.Split(out, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("stream event %q: %v", data, err)
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	want := "Sure: write to [REDACTED_EMAIL] or call [REDACTED_PHONE] today."
	if text.String() != want || !strings.Contains(out, "data: [DONE]") {
		t.Errorf("strict stream text = %q, want %q and a complete stream", text.String(), want)
	}

	// The same through the Anthropic endpoint: text_delta events.
	_, _, out = call(t, "POST", g.URL+"/v1/messages", "sb-strict-key-123456",
		`{"model":"gpt-4o","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	text.Reset()
	for _, line := range strings.Split(out, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Type  string `json:"type"`
			Delta struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(data), &ev, json.RejectUnknownMembers(false)); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		if ev.Type == "content_block_delta" && ev.Delta.Type == "text_delta" {
			text.WriteString(ev.Delta.Text)
		}
	}
	if text.String() != want || !strings.Contains(out, "message_stop") {
		t.Errorf("strict Messages stream text = %q, want %q and a complete stream:\n%s", text.String(), want, out)
	}
}

func TestHooks(t *testing.T) {
	var preCalls atomic.Int64
	mode := atomic.Value{}
	mode.Store("modify")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Stage string `json:"stage"`
			Key   string `json:"key"`
		}
		json.Unmarshal(body, &req, json.RejectUnknownMembers(false))
		if req.Stage == "pre" {
			preCalls.Add(1)
			switch mode.Load().(string) {
			case "modify":
				io.WriteString(w, `{"action":"modify","messages":[{"role":"system","content":"Context: the answer is 42."}],"metadata":{"rag":"v1"}}`)
			case "deny":
				io.WriteString(w, `{"action":"deny","reason":"this topic is not allowed here"}`)
			case "slow":
				time.Sleep(300 * time.Millisecond)
				io.WriteString(w, `{"action":"allow"}`)
			}
			return
		}
		if strings.Contains(string(body), "forbidden-answer") {
			io.WriteString(w, `{"action":"deny","reason":"the answer failed review"}`)
			return
		}
		io.WriteString(w, `{"action":"allow"}`)
	}))
	defer hook.Close()
	up := newUpstream(t, emulator.Options{})
	g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, tenancyConfig+`
hooks:
  - {name: rag, url: "`+hook.URL+`/pre", stage: pre, timeout: 100ms}
  - {name: rag-open, url: "`+hook.URL+`/pre", stage: pre, timeout: 100ms, fail_open: true}
  - {name: review, url: "`+hook.URL+`/post", stage: post}
policy: {hooks: [rag, review]}
policies: [{name: lenient, hooks: [rag-open]}]
keys:
  - {name: normal, key: "${GATEWAY_KEY}"}
  - {name: lenient, key: "sb-lenient-key-123456", policy: lenient}
`, up, "", "")
	url := g.URL + "/v1/chat/completions"

	if st, _, out := call(t, "POST", url, gatewayKey, tenChat); st != 200 {
		t.Fatalf("modify = %d %s", st, out)
	}
	sent := string(lastUpstream(t, up).Body)
	if !strings.Contains(sent, "Context: the answer is 42.") || !strings.Contains(sent, `"rag":"v1"`) || !strings.Contains(sent, "hello there") {
		t.Errorf("upstream got %s; want the hook's context message and metadata added", sent)
	}
	mode.Store("deny")
	st, _, out := call(t, "POST", url, gatewayKey, tenChat)
	wantError(t, "denied by the pre hook", st, out, 403, "request_denied", "not allowed here")
	mode.Store("slow")
	st, _, out = call(t, "POST", url, gatewayKey, tenChat)
	wantError(t, "pre hook timing out (fail closed)", st, out, 503, "guardrail_unavailable", "retry")
	if st, _, out := call(t, "POST", url, "sb-lenient-key-123456", tenChat); st != 200 {
		t.Errorf("pre hook timing out (fail open) = %d %s, want 200", st, out)
	}
	// The post hook refuses an answer it does not like.
	g2up := newUpstream(t, emulator.Options{Reply: "here is the forbidden-answer"})
	g2, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, tenancyConfig+`
hooks: [{name: review, url: "`+hook.URL+`/post", stage: post}]
policy: {hooks: [review]}
keys: [{name: normal, key: "${GATEWAY_KEY}"}]
`, g2up, "", "")
	st, _, out = call(t, "POST", g2.URL+"/v1/chat/completions", gatewayKey, tenChat)
	wantError(t, "answer refused by the post hook", st, out, 403, "request_denied", "failed review")
	if strings.Contains(out, "forbidden-answer") {
		t.Errorf("the refused answer leaked: %s", out)
	}
}

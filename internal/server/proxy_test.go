package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

const chatBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"What is the capital of Mexico?"}]}`

func TestChatNonStreaming(t *testing.T) {
	up := newUpstream(t, emulator.Options{APIKey: upstreamKey})
	gw := newGateway(t, basicConfig, up)

	res := do(t, "POST", gw.URL+"/v1/chat/completions", chatBody, "X-Request-Id", "client-id-1")
	if res.status != 200 {
		t.Fatalf("status = %d, want 200; body %s", res.status, res.body)
	}
	var got struct {
		Object  string
		Model   string
		Choices []struct {
			Message struct{ Content string }
		}
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(res.body), &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, res.body)
	}
	if got.Object != "chat.completion" || len(got.Choices) != 1 || got.Choices[0].Message.Content == "" {
		t.Errorf("body = %s, want a chat.completion with one choice", res.body)
	}
	for h, want := range map[string]string{
		"X-Request-Id":           "client-id-1",
		"X-Switchboard-Provider": "oai",
		"X-Switchboard-Model":    "gpt-4o-2024-08-06",
		"X-Switchboard-Attempts": "1",
		"Content-Type":           "application/json",
	} {
		if g := res.header.Get(h); g != want {
			t.Errorf("header %s = %q, want %q", h, g, want)
		}
	}

	rec := up.next(t)
	if rec.Path != "/v1/chat/completions" {
		t.Errorf("upstream path = %q, want /v1/chat/completions", rec.Path)
	}
	if a := rec.Header.Get("Authorization"); a != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q, want the provider key", a)
	}
	want := strings.Replace(chatBody, `"gpt-4o"`, `"gpt-4o-2024-08-06"`, 1)
	if string(rec.Body) != want {
		t.Errorf("upstream body = %s, want only the model rewritten: %s", rec.Body, want)
	}
}

func TestChatPassThroughKeepsBytes(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, basicConfig, up)
	// Odd spacing, key order and unicode escapes must reach the upstream as sent.
	body := "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"caf\\u00e9 \u2603\"} ],\n  \"temperature\": 0.25, \"model\":\"gpt-4o\", \"top_k\": 5 }"
	res := do(t, "POST", gw.URL+"/v1/chat/completions", body)
	if res.status != 200 {
		t.Fatalf("status = %d; body %s", res.status, res.body)
	}
	rec := up.next(t)
	want := strings.Replace(body, `"gpt-4o"`, `"gpt-4o-2024-08-06"`, 1)
	if string(rec.Body) != want {
		t.Errorf("upstream body =\n%s\nwant\n%s", rec.Body, want)
	}
}

// sseEvents reads data payloads of an SSE body.
func sseEvents(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestChatStreaming(t *testing.T) {
	for _, tc := range []struct {
		name      string
		model     string
		options   string
		wantUsage bool
		path      string
	}{
		{"openai usage not asked", "gpt-4o", ``, false, "/v1/chat/completions"},
		{"openai usage asked", "gpt-4o", `,"stream_options":{"include_usage":true}`, true, "/v1/chat/completions"},
		{"openai usage refused", "gpt-4o", `,"stream_options":{"include_usage":false}`, false, "/v1/chat/completions"},
		{"azure usage not asked", "azure-4o", ``, false, "/openai/deployments/gpt4o-prod/chat/completions"},
		{"azure usage asked", "azure-4o", `,"stream_options":{"include_usage":true}`, true, "/openai/deployments/gpt4o-prod/chat/completions"},
		{"simulator", "demo", ``, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, emulator.Options{})
			gw := newGateway(t, basicConfig, up)
			body := `{"model":"` + tc.model + `","stream":true,"messages":[{"role":"user","content":"hi"}]` + tc.options + `}`
			res := do(t, "POST", gw.URL+"/v1/chat/completions", body)
			if res.status != 200 {
				t.Fatalf("status = %d; body %s", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type = %q, want text/event-stream", ct)
			}
			events := sseEvents(t, res.body)
			if len(events) < 3 || events[len(events)-1] != "[DONE]" {
				t.Fatalf("events = %q, want chunks ending in [DONE]", events)
			}
			var text strings.Builder
			sawUsage := false
			for _, e := range events[:len(events)-1] {
				var c struct {
					Choices []struct {
						Delta struct{ Content string }
					}
					Usage *struct {
						TotalTokens int `json:"total_tokens"`
					}
				}
				if err := json.Unmarshal([]byte(e), &c); err != nil {
					t.Fatalf("event %q is not JSON: %v", e, err)
				}
				if c.Usage != nil {
					sawUsage = true
				}
				for _, ch := range c.Choices {
					text.WriteString(ch.Delta.Content)
				}
			}
			if sawUsage != tc.wantUsage {
				t.Errorf("usage chunk shown = %v, want %v", sawUsage, tc.wantUsage)
			}
			if text.Len() == 0 {
				t.Errorf("streamed no content: %q", events)
			}
			if tc.path == "" {
				return
			}
			rec := up.next(t)
			if rec.Path != tc.path {
				t.Errorf("upstream path = %q, want %q", rec.Path, tc.path)
			}
			var sent struct {
				StreamOptions struct {
					IncludeUsage bool `json:"include_usage"`
				} `json:"stream_options"`
			}
			if err := json.Unmarshal(rec.Body, &sent); err != nil || !sent.StreamOptions.IncludeUsage {
				t.Errorf("upstream body %s: want stream_options.include_usage true (err %v)", rec.Body, err)
			}
			if !strings.Contains(gw.log.String(), "prompt_tokens=") || strings.Contains(gw.log.String(), "prompt_tokens=0 ") {
				t.Errorf("request log has no usage for the stream:\n%s", gw.log)
			}
		})
	}
}

func TestAzureRequestShape(t *testing.T) {
	up := newUpstream(t, emulator.Options{APIKey: azureKey})
	gw := newGateway(t, basicConfig, up)
	res := do(t, "POST", gw.URL+"/v1/chat/completions", strings.Replace(chatBody, "gpt-4o", "azure-4o", 1))
	if res.status != 200 {
		t.Fatalf("status = %d; body %s", res.status, res.body)
	}
	rec := up.next(t)
	if rec.Path != "/openai/deployments/gpt4o-prod/chat/completions" || rec.RawQuery != "api-version=2024-10-21" {
		t.Errorf("upstream URL = %s?%s, want the deployment form with api-version", rec.Path, rec.RawQuery)
	}
	if k := rec.Header.Get("Api-Key"); k != azureKey {
		t.Errorf("upstream api-key = %q, want the Azure key", k)
	}
	if a := rec.Header.Get("Authorization"); a != "" {
		t.Errorf("upstream Authorization = %q, want none for Azure", a)
	}
}

func TestEmbeddings(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, basicConfig, up)
	res := do(t, "POST", gw.URL+"/v1/embeddings", `{"model":"embed","input":["a","b"],"encoding_format":"float","dimensions":8}`)
	if res.status != 200 {
		t.Fatalf("status = %d; body %s", res.status, res.body)
	}
	var got struct {
		Data []struct{ Embedding []float64 }
	}
	if err := json.Unmarshal([]byte(res.body), &got); err != nil || len(got.Data) != 2 || len(got.Data[0].Embedding) != 8 {
		t.Errorf("body = %.300s, want two 8-dimension embeddings (err %v)", res.body, err)
	}
	if rec := up.next(t); rec.Path != "/v1/embeddings" || !strings.Contains(string(rec.Body), `"text-embedding-3-small"`) {
		t.Errorf("upstream got %s %s", rec.Path, rec.Body)
	}
	res = do(t, "POST", gw.URL+"/v1/embeddings", `{"model":"embed","input":"a","stream":true}`)
	if res.status != 400 || !strings.Contains(res.body, `"param":"stream"`) {
		t.Errorf("embeddings with stream = %d %s, want 400 naming stream", res.status, res.body)
	}
}

func TestModelsAndHealth(t *testing.T) {
	gw := newGateway(t, basicConfig, newUpstream(t, emulator.Options{}))
	res := do(t, "GET", gw.URL+"/v1/models", "")
	var list struct {
		Object string
		Data   []struct{ ID, Object string }
	}
	if err := json.Unmarshal([]byte(res.body), &list); err != nil || res.status != 200 || list.Object != "list" {
		t.Fatalf("GET /v1/models = %d %s (err %v)", res.status, res.body, err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if got, want := strings.Join(ids, ","), "gpt-4o,azure-4o,embed,demo"; got != want {
		t.Errorf("models = %s, want %s", got, want)
	}
	if res := do(t, "GET", gw.URL+"/healthz", ""); res.status != 200 {
		t.Errorf("healthz = %d", res.status)
	}
	if res := do(t, "GET", gw.URL+"/readyz", ""); res.status != 200 {
		t.Errorf("readyz = %d", res.status)
	}
	gw.SetDraining()
	if res := do(t, "GET", gw.URL+"/readyz", ""); res.status != 503 {
		t.Errorf("readyz while draining = %d, want 503", res.status)
	}
}

// errorBody is the OpenAI error envelope as the gateway renders it.
type errorBody struct {
	Error struct {
		Message   string
		Type      string
		Param     *string
		Code      *string
		RequestID string `json:"request_id"`
	}
}

func parseError(t *testing.T, res result) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(res.body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("error body %q is not an OpenAI error (err %v)", res.body, err)
	}
	if e.Error.RequestID == "" || e.Error.RequestID != res.header.Get("X-Request-Id") {
		t.Errorf("error request_id = %q, header %q: want the same id", e.Error.RequestID, res.header.Get("X-Request-Id"))
	}
	return e
}

func TestRequestValidation(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, "server: {max_body_bytes: 2KiB}\n"+basicConfig, up)
	big := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 3000) + `"}]}`
	for _, tc := range []struct {
		name      string
		path      string
		body      string
		status    int
		wantParam string
		wantCode  string
		inMessage string
	}{
		{"malformed json", "/v1/chat/completions", `{"model":"gpt-4o",`, 400, "", "invalid_json", "JSON"},
		{"not an object", "/v1/chat/completions", `[1,2]`, 400, "", "invalid_json", ""},
		{"unknown parameter", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"foo":1}`, 400, "foo", "", "extra_params"},
		{"extra param allowed on oai only", "/v1/chat/completions", `{"model":"azure-4o","messages":[{"role":"user","content":"x"}],"top_k":1}`, 400, "top_k", "", "az"},
		{"wrong type", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, 400, "temperature", "", "temperature"},
		{"missing messages", "/v1/chat/completions", `{"model":"gpt-4o"}`, 400, "messages", "", "messages"},
		{"missing model", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model", "", "model"},
		{"unknown model", "/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"x"}]}`, 404, "", "model_not_found", "/v1/models"},
		{"body too large", "/v1/chat/completions", big, 413, "", "request_too_large", "max_body_bytes"},
		{"unknown route", "/v1/nothing", `{}`, 404, "", "unknown_url", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, "POST", gw.URL+tc.path, tc.body)
			if res.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", res.status, tc.status, res.body)
			}
			e := parseError(t, res)
			if tc.wantParam != "" && (e.Error.Param == nil || *e.Error.Param != tc.wantParam) {
				t.Errorf("param = %v, want %q; body %s", e.Error.Param, tc.wantParam, res.body)
			}
			if tc.wantCode != "" && (e.Error.Code == nil || *e.Error.Code != tc.wantCode) {
				t.Errorf("code = %v, want %q; body %s", e.Error.Code, tc.wantCode, res.body)
			}
			if !strings.Contains(e.Error.Message, tc.inMessage) {
				t.Errorf("message %q does not mention %q", e.Error.Message, tc.inMessage)
			}
		})
	}
	select {
	case r := <-up.done:
		t.Errorf("an invalid request reached the upstream: %s %s", r.Path, r.Body)
	default:
	}
}

func TestBodyLimitChunked(t *testing.T) {
	gw := newGateway(t, "server: {max_body_bytes: 1KiB}\n"+basicConfig, newUpstream(t, emulator.Options{}))
	// A chunked body has no Content-Length; the gateway must stop reading past the limit.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"`))
		for range 100 {
			if _, err := pw.Write([]byte(strings.Repeat("y", 1024))); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", gw.URL+"/v1/chat/completions", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pr.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversize body: status %d, want 413", resp.StatusCode)
	}
}

func TestAuth(t *testing.T) {
	cfg := basicConfig + `
keys:
  - {name: ci, key: "${GATEWAY_KEY}", models: [gpt-4o]}
`
	gw := newGateway(t, cfg, newUpstream(t, emulator.Options{}))
	for _, tc := range []struct {
		name   string
		body   string
		hdr    []string
		status int
	}{
		{"no key", chatBody, nil, 401},
		{"wrong key", chatBody, []string{"Authorization", "Bearer nope"}, 401},
		{"bearer", chatBody, []string{"Authorization", "Bearer " + gatewayKey}, 200},
		{"x-api-key", chatBody, []string{"X-Api-Key", gatewayKey}, 200},
		{"model not allowed", strings.Replace(chatBody, "gpt-4o", "azure-4o", 1), []string{"Authorization", "Bearer " + gatewayKey}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, "POST", gw.URL+"/v1/chat/completions", tc.body, tc.hdr...)
			if res.status != tc.status {
				t.Errorf("status = %d, want %d; body %s", res.status, tc.status, res.body)
			}
			if tc.status != 200 {
				parseError(t, res)
			}
		})
	}
	res := do(t, "GET", gw.URL+"/v1/models", "", "Authorization", "Bearer "+gatewayKey)
	if !strings.Contains(res.body, `"gpt-4o"`) || strings.Contains(res.body, "azure-4o") {
		t.Errorf("models for a scoped key = %s, want only gpt-4o", res.body)
	}
}

package emulator

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAzureChatMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	resp, body := mustSend(t, srv, call{path: azureChatPath, body: string(readFixture(t, "azure/chat-completions.request.json"))})
	if resp.StatusCode != 200 || resp.Header.Get("apim-request-id") == "" {
		t.Errorf("status %d, apim-request-id %q; want 200 and an id", resp.StatusCode, resp.Header.Get("apim-request-id"))
	}
	if diff := cmp.Diff(normalize(readFixture(t, "azure/chat-completions.response.json")), normalize(body)); diff != "" {
		t.Errorf("body layout differs from fixture (-want +got):\n%s", diff)
	}
	// The deployment decides the model, whatever the body says.
	if !strings.Contains(string(body), `"model":"gpt-4o"`) {
		t.Errorf("body = %s, want the deployment gpt-4o as model", body)
	}
	_, body = mustSend(t, srv, call{path: "/openai/deployments/my-dep/chat/completions?api-version=1", body: `{"model":"ignored","messages":[]}`})
	if !strings.Contains(string(body), `"model":"my-dep"`) {
		t.Errorf("body = %s, want model my-dep", body)
	}
}

func TestAzureStreamMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	fx := readFixture(t, "azure/chat-stream-content-filter.sse")
	// The fixture's deployment answers system_fingerprint null; the emulator
	// a fingerprint string.
	want := strings.ReplaceAll(normalize(fx), `"system_fingerprint":null`, `"system_fingerprint":"_"`)
	tests := []struct {
		name, body, want string
	}{
		{"include_usage", `{"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`, want},
		{
			"no usage",
			`{"messages":[{"role":"user","content":"x"}],"stream":true}`,
			strings.ReplaceAll(strings.Replace(want, events(want)[len(events(want))-3], "", 1), `,"usage":null`, ""),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, call{path: azureChatPath, body: tt.body, header: map[string]string{"x-mock-reply": "Capital of Denmark."}})
			if got := resp.Header.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if diff := cmp.Diff(events(tt.want), events(normalize(body))); diff != "" {
				t.Errorf("stream differs from fixture (-want +got):\n%s", diff)
			}
			// The first chunk is byte for byte the fixture's.
			if got, want := events(string(body))[0], events(string(fx))[0]; got != want {
				t.Errorf("first chunk = %s, want %s", got, want)
			}
		})
	}
}

func TestAzureToolCalls(t *testing.T) {
	_, srv := newServer(t, Options{})
	req := `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"multiply"}}]`
	_, body := mustSend(t, srv, call{path: azureChatPath, body: req + `}`})
	if !strings.Contains(string(body), `"finish_reason":"tool_calls","index":0,"logprobs":null,"message":{"content":null,"refusal":null,"role":"assistant","tool_calls":[{"function":{"arguments":"{}","name":"multiply"},"id":"call_`) {
		t.Errorf("tool call body = %s", body)
	}
	_, body = mustSend(t, srv, call{path: azureChatPath, body: req + `,"stream":true}`})
	ev := events(string(body))
	if len(ev) != 6 || !strings.Contains(ev[1], `"tool_calls":[{"function":{"arguments":"","name":"multiply"},"id":"call_`) ||
		!strings.Contains(ev[2], `"delta":{"tool_calls":[{"function":{"arguments":"{}"},"index":0}]}`) ||
		!strings.Contains(ev[3], `"finish_reason":"tool_calls"`) || ev[4] != "data: [DONE]\n\n" {
		t.Errorf("tool call stream =\n%s", body)
	}
}

func TestAzureErrors(t *testing.T) {
	_, srv := newServer(t, Options{})
	tests := []struct {
		name, fault string
		wantStatus  int
		wantBody    string
		wantHeader  [2]string
	}{
		{"content filter", "status=400;code=content_filter", 400, string(readFixture(t, "azure/error-400-content-filter.response.json")), [2]string{}},
		{"rate limit", "status=429", 429, "", [2]string{"Retry-After", "1"}},
		{"unauthorized", "status=401", 401, azureUnauthorizedBody, [2]string{}},
		{"server error", "status=500", 500, `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`, [2]string{}},
		{"unavailable", "status=503", 503, `{"error":{"code":"503","message":"Service Unavailable"}}`, [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, call{path: azureChatPath, body: chatBody, header: map[string]string{"x-mock-fault": tt.fault}})
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" {
				if diff := cmp.Diff(tt.wantBody, string(body)); diff != "" {
					t.Errorf("body mismatch (-want +got):\n%s", diff)
				}
			}
			if k := tt.wantHeader[0]; k != "" && resp.Header.Get(k) != tt.wantHeader[1] {
				t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), tt.wantHeader[1])
			}
			if resp.Header.Get("apim-request-id") == "" {
				t.Errorf("no apim-request-id")
			}
		})
	}
}

package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// allProvidersConfig has one model per provider type, all on one emulator
// (which speaks every wire format), retries off so each scenario is one
// upstream exchange.
const allProvidersConfig = `
providers:
  - {name: oai, type: openai, base_url: "{{UP}}/v1"}
  - {name: az, type: azure, base_url: "{{UP}}"}
  - {name: claude, type: anthropic, base_url: "{{UP}}"}
  - {name: gem, type: gemini, base_url: "{{UP}}", api_keys: [gem-key-1]}
  - {name: vtx, type: vertex, base_url: "{{UP}}", project: p1, region: us-central1, api_keys: [vertex-token-1]}
  - {name: brk, type: bedrock, base_url: "{{UP}}", region: us-east-1, api_keys: [bedrock-key-1]}
models:
  - {name: openai, targets: [{provider: oai, model: gpt-4o}], retries: 0}
  - {name: azure, targets: [{provider: az, model: gpt4o-deploy}], retries: 0}
  - {name: anthropic, targets: [{provider: claude, model: claude-sonnet-4-5}], retries: 0}
  - {name: gemini, targets: [{provider: gem, model: gemini-2.5-flash}], retries: 0}
  - {name: vertex, targets: [{provider: vtx, model: gemini-2.5-pro}], retries: 0}
  - {name: bedrock, targets: [{provider: brk, model: "anthropic.claude-sonnet-4-5-v1:0"}], retries: 0}
`

var providerTypes = []string{"openai", "azure", "anthropic", "gemini", "vertex", "bedrock"}

const tinyPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

const weatherTool = `{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}`

// TestScenariosEveryProvider runs one table of scenarios (text, system,
// tools, tool results, images, JSON schema, thinking, errors, streams, a cut
// stream) against every provider type through the emulator: what an OpenAI
// client gets must not depend on which provider answers, except where a
// provider cannot honour a field, which is then a 400 naming it.
func TestScenariosEveryProvider(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, allProvidersConfig, up)

	type expect struct {
		status    int
		toolCall  string // a tool call to this function is expected
		param     string // for a 400: the field it names
		errorCode string // for an error status: the code
		cutStream bool   // a 200 stream ending in an error event
		noTools   bool   // content, no tool calls, finish_reason stop (JSON mode)
	}
	scenarios := []struct {
		name   string
		body   string // %MODEL% is replaced
		fault  string
		want   expect
		except map[string]expect // per provider type
	}{
		{name: "text", body: `{"model":"%MODEL%","messages":[{"role":"user","content":"What is the capital of Mexico?"}]}`,
			want: expect{status: 200}},
		{name: "system", body: `{"model":"%MODEL%","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Capital of Mexico?"}],"temperature":0.2,"max_tokens":100,"stop":["\n\n"]}`,
			want: expect{status: 200}},
		{name: "tools", body: `{"model":"%MODEL%","tools":[` + weatherTool + `],"messages":[{"role":"user","content":"Weather in Paris?"}]}`,
			want: expect{status: 200, toolCall: "get_weather"}},
		{name: "tool results", body: `{"model":"%MODEL%","tools":[` + weatherTool + `],"messages":[{"role":"user","content":"Weather in Paris?"},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":21}"}]}`,
			want: expect{status: 200}},
		{name: "image", body: `{"model":"%MODEL%","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + tinyPNG + `"}}]}]}`,
			want: expect{status: 200}},
		// JSON mode: native where the provider has it, a forced tool whose
		// input comes back as the content where it has not (anthropic,
		// bedrock); either way the client sees content, not a tool call.
		{name: "json schema", body: `{"model":"%MODEL%","response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object","properties":{"name":{"type":"string"}}}}},"messages":[{"role":"user","content":"A city?"}]}`,
			want: expect{status: 200, noTools: true}},
		{name: "thinking", body: `{"model":"%MODEL%","reasoning_effort":"low","messages":[{"role":"user","content":"Think, then answer: 2+2?"}]}`,
			want: expect{status: 200}},
		{name: "rate limited", fault: "status=429", body: `{"model":"%MODEL%","messages":[{"role":"user","content":"hi"}]}`,
			want: expect{status: 429, errorCode: "rate_limit_exceeded"}},
		{name: "server error", fault: "status=500", body: `{"model":"%MODEL%","messages":[{"role":"user","content":"hi"}]}`,
			want: expect{status: 500}},
		{name: "stream", body: `{"model":"%MODEL%","stream":true,"messages":[{"role":"user","content":"What is the capital of Mexico?"}]}`,
			want: expect{status: 200}},
		{name: "cut stream", fault: "cut_after=2", body: `{"model":"%MODEL%","stream":true,"messages":[{"role":"user","content":"What is the capital of Mexico?"}]}`,
			want: expect{status: 200, cutStream: true}},
	}
	for _, sc := range scenarios {
		for _, prov := range providerTypes {
			t.Run(sc.name+"/"+prov, func(t *testing.T) {
				want := sc.want
				if e, ok := sc.except[prov]; ok {
					want = e
				}
				if err := up.SetFaults(sc.fault); err != nil {
					t.Fatal(err)
				}
				defer up.SetFaults("")
				res := do(t, "POST", gw.URL+"/v1/chat/completions", strings.ReplaceAll(sc.body, "%MODEL%", prov))
				if res.status != want.status {
					t.Fatalf("status = %d, want %d; body %s", res.status, want.status, res.body)
				}
				switch {
				case want.status != 200:
					e := parseError(t, res)
					if want.param != "" && (e.Error.Param == nil || *e.Error.Param != want.param) {
						t.Errorf("param = %v, want %q; %s", e.Error.Param, want.param, res.body)
					}
					if want.errorCode != "" && (e.Error.Code == nil || *e.Error.Code != want.errorCode) {
						t.Errorf("code = %v, want %q; %s", e.Error.Code, want.errorCode, res.body)
					}
				case strings.HasPrefix(res.header.Get("Content-Type"), "text/event-stream"):
					events := sseEvents(t, res.body)
					last := events[len(events)-1]
					if want.cutStream != strings.Contains(last, `"error"`) {
						t.Errorf("last event %q; want an error event: %v", last, want.cutStream)
					}
					if !want.cutStream && last != "[DONE]" {
						t.Errorf("stream ended with %q, want [DONE]", last)
					}
					var text strings.Builder
					for _, ev := range events {
						var c struct {
							Choices []struct{ Delta struct{ Content string } }
						}
						json.Unmarshal([]byte(ev), &c)
						for _, ch := range c.Choices {
							text.WriteString(ch.Delta.Content)
						}
					}
					if text.Len() == 0 && !want.cutStream {
						t.Errorf("no content streamed: %q", events)
					}
				default:
					var c struct {
						Object  string
						Choices []struct {
							Message struct {
								Content   *string
								ToolCalls []struct {
									ID       string
									Function struct{ Name, Arguments string }
								} `json:"tool_calls"`
							}
							FinishReason string `json:"finish_reason"`
						}
						Usage struct {
							TotalTokens int `json:"total_tokens"`
						}
					}
					if err := json.Unmarshal([]byte(res.body), &c); err != nil || c.Object != "chat.completion" || len(c.Choices) != 1 {
						t.Fatalf("not a chat.completion (%v): %s", err, res.body)
					}
					ch := c.Choices[0]
					if want.toolCall != "" {
						if len(ch.Message.ToolCalls) == 0 || ch.Message.ToolCalls[0].Function.Name != want.toolCall || ch.Message.ToolCalls[0].ID == "" || ch.FinishReason != "tool_calls" {
							t.Errorf("want a tool call to %s with an id and finish_reason tool_calls: %s", want.toolCall, res.body)
						}
					} else if ch.Message.Content == nil && len(ch.Message.ToolCalls) == 0 {
						t.Errorf("no content and no tool call: %s", res.body)
					}
					if want.noTools && (ch.Message.Content == nil || *ch.Message.Content == "" || len(ch.Message.ToolCalls) > 0 || ch.FinishReason != "stop") {
						t.Errorf("want content, no tool calls and finish_reason stop: %s", res.body)
					}
					if c.Usage.TotalTokens == 0 {
						t.Errorf("no usage: %s", res.body)
					}
				}
			})
		}
	}
}

package anthropic

import (
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

func TestFromMessageFixtures(t *testing.T) {
	tests := []struct {
		name string
		want Usage
	}{
		{"messages-text", Usage{PromptTokens: 16, CompletionTokens: 24}},
		{"messages-tool-use", Usage{PromptTokens: 628, CompletionTokens: 50}},
		{"messages-tool-result", Usage{PromptTokens: 691, CompletionTokens: 53}},
		// input_tokens excludes the cache: 3 + 1111 read + 418 written.
		{"messages-prompt-cache", Usage{PromptTokens: 1532, CompletionTokens: 33, CachedTokens: 1111, CacheCreationTokens: 418}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := readFixture(t, "anthropic/"+tt.name+".response.json")
			out, usage, err := FromMessage(body, "gpt-4o")
			if err != nil {
				t.Fatalf("FromMessage(%s) error: %v", tt.name, err)
			}
			checkCompact(t, out)
			if diff := cmp.Diff(tt.want, usage); diff != "" {
				t.Errorf("FromMessage(%s) usage mismatch (-want +got):\n%s", tt.name, diff)
			}
			golden(t, "frommessage/"+tt.name+".want.json", indentJSON(t, out))
		})
	}
}

// TestFromMessageCases covers block and stop_reason shapes the fixtures
// lack.
func TestFromMessageCases(t *testing.T) {
	tests := []struct{ name, body string }{
		{"thinking", `{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"thinking","thinking":"Let me think.","signature":"sig"},{"type":"redacted_thinking","data":"xxx"},{"type":"text","text":"Four."}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":20}}`},
		{"max-tokens", `{"id":"msg_2","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Once upon"}],"stop_reason":"max_tokens","usage":{"input_tokens":5,"output_tokens":2}}`},
		{"refusal", `{"id":"msg_3","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":"refusal","usage":{"input_tokens":5,"output_tokens":0}}`},
		{"stop-sequence", `{"id":"msg_4","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"1, 2, 3, 4, "}],"stop_reason":"stop_sequence","stop_sequence":"5","usage":{"input_tokens":5,"output_tokens":9}}`},
		{"parallel-tools", `{"id":"msg_5","type":"message","role":"assistant","model":"claude","content":[{"type":"tool_use","id":"toolu_a","name":"get_weather","input":{"city": "Paris"}},{"type":"tool_use","id":"toolu_b","name":"get_weather","input":{"city":"Tokyo","units":["c"]}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":30}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := FromMessage([]byte(tt.body), "gpt-4o")
			if err != nil {
				t.Fatalf("FromMessage(%s) error: %v", tt.body, err)
			}
			checkCompact(t, out)
			golden(t, "frommessage/"+tt.name+".want.json", indentJSON(t, out))
		})
	}
}

func TestFromMessageErrors(t *testing.T) {
	for _, body := range []string{
		``,
		`{"type":"message"`,
		`[]`,
		`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
		`{"type":"message","content":"text"}`,
	} {
		if out, _, err := FromMessage([]byte(body), "m"); err == nil {
			t.Errorf("FromMessage(%q) = %s, want an error", body, out)
		}
	}
}

func TestFinishReason(t *testing.T) {
	for stop, want := range map[string]string{
		"end_turn":                      "stop",
		"stop_sequence":                 "stop",
		"pause_turn":                    "stop",
		"max_tokens":                    "length",
		"model_context_window_exceeded": "length",
		"tool_use":                      "tool_calls",
		"refusal":                       "content_filter",
		"something_new":                 "stop",
	} {
		if got := finishReason(stop); got != want {
			t.Errorf("finishReason(%q) = %q, want %q", stop, got, want)
		}
	}
}

// TestFromMessageJSON covers answers to requests sent with
// response_format: the forced tool's call is the content.
func TestFromMessageJSON(t *testing.T) {
	tests := []struct{ name, tool, body string }{
		{"json-schema", "city", `{"id":"msg_6","type":"message","role":"assistant","model":"claude","content":[{"type":"tool_use","id":"toolu_j","name":"city","input":{"name": "Paris",
 "country": "France"}}],"stop_reason":"tool_use","usage":{"input_tokens":50,"output_tokens":20}}`},
		{"json-object-text-dropped", "json_response", `{"id":"msg_7","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Here you are:"},{"type":"tool_use","id":"toolu_k","name":"json_response","input":{"greeting":"hi"}}],"stop_reason":"tool_use","usage":{"input_tokens":40,"output_tokens":15}}`},
		{"json-max-tokens", "json_response", `{"id":"msg_8","type":"message","role":"assistant","model":"claude","content":[{"type":"tool_use","id":"toolu_l","name":"json_response","input":{}}],"stop_reason":"max_tokens","usage":{"input_tokens":40,"output_tokens":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := FromMessageJSON([]byte(tt.body), "gpt-4o", tt.tool)
			if err != nil {
				t.Fatalf("FromMessageJSON(%s) error: %v", tt.body, err)
			}
			checkCompact(t, out)
			golden(t, "frommessage/"+tt.name+".want.json", indentJSON(t, out))
		})
	}

	// The recorded tool call, read as the JSON tool's.
	body := readFixture(t, "anthropic/messages-tool-use.response.json")
	out, usage, err := FromMessageJSON(body, "gpt-4o", "country_source")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Choices []struct {
			Message struct {
				Content   *string `json:"content"`
				ToolCalls []any   `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	m := got.Choices[0].Message
	if m.Content == nil || !jsontext.Value(*m.Content).IsValid() || len(m.ToolCalls) != 0 || got.Choices[0].FinishReason != "stop" {
		t.Errorf("FromMessageJSON(messages-tool-use, country_source) = %s; want the input as content, no tool_calls, finish_reason stop", out)
	}
	if want := (Usage{PromptTokens: 628, CompletionTokens: 50}); usage != want {
		t.Errorf("usage = %+v, want %+v", usage, want)
	}

	// Without the JSON tool's name it is FromMessage.
	plain, _, _ := FromMessage(body, "gpt-4o")
	if again, _, _ := FromMessageJSON(body, "gpt-4o", ""); string(again) != string(plain) {
		t.Errorf("FromMessageJSON(…, \"\") = %s, want FromMessage's %s", again, plain)
	}
	// Another tool stays a tool call; the text is still left out.
	other, _, _ := FromMessageJSON(body, "gpt-4o", "json_response")
	if err := json.Unmarshal(other, &got); err != nil {
		t.Fatal(err)
	}
	if m := got.Choices[0].Message; m.Content != nil || len(m.ToolCalls) != 1 || got.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("FromMessageJSON with another tool's name = %s, want the tool call, no content, finish_reason tool_calls", other)
	}
}

func TestJSONToolName(t *testing.T) {
	tests := []struct {
		body string
		want string
		ok   bool
	}{
		{`{"messages":[]}`, "", false},
		{`{"response_format":{"type":"text"}}`, "", false},
		{`{"response_format":null}`, "", false},
		{`{"response_format":{"type":"json_object"}}`, "json_response", true},
		{`{"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{}}}}`, "city", true},
		{`{"response_format":{"type":"json_schema","json_schema":{"schema":{}}}}`, "json_response", true},
		{`{"response_format":{"type":"json_schema"}}`, "json_response", true},
		{`{"response_format":`, "", false},
	}
	for _, tt := range tests {
		got, ok := JSONToolName([]byte(tt.body))
		if got != tt.want || ok != tt.ok {
			t.Errorf("JSONToolName(%s) = %q, %v; want %q, %v", tt.body, got, ok, tt.want, tt.ok)
		}
	}
}

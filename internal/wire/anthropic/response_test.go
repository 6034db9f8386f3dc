package anthropic

import (
	"testing"

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

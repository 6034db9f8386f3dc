package bedrock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// TestToConverseFixtures translates every recorded OpenAI chat request
// that Bedrock can honour, and checks the others are refused by name.
func TestToConverseFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "openai", "chat-*.request.json"))
	if len(files) == 0 {
		t.Fatal("no OpenAI request fixtures")
	}
	refused := map[string]string{
		"chat-image-input": "messages[0].content[1].image_url.url", // an http URL
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".request.json")
		t.Run(name, func(t *testing.T) {
			out, err := ToConverse(readFixture(t, "openai/"+name+".request.json"), Options{DefaultMaxTokens: 1024})
			if param, ok := refused[name]; ok {
				pe, isParam := errors.AsType[*openai.ParamError](err)
				if !isParam || pe.Param != param {
					t.Fatalf("ToConverse(%s) error = %v, want ParamError for %s", name, err, param)
				}
				return
			}
			if err != nil {
				t.Fatalf("ToConverse(%s): %v", name, err)
			}
			checkCompact(t, out)
			golden(t, "toconverse/fixture-"+name+".want.json", indentJSON(t, out))
		})
	}
}

// TestToConverseCases runs testdata/toconverse/<case>.in.json.
func TestToConverseCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/toconverse/*.in.json")
	if len(files) == 0 {
		t.Fatal("no cases")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.json")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ToConverse(in, Options{})
			if err != nil {
				t.Fatalf("ToConverse: %v", err)
			}
			checkCompact(t, out)
			golden(t, "toconverse/"+name+".want.json", indentJSON(t, out))
		})
	}
}

func TestToConverseRejects(t *testing.T) {
	tests := []struct{ name, body, param string }{
		{"n", `{"messages":[{"role":"user","content":"hi"}],"n":2}`, "n"},
		{"seed", `{"messages":[{"role":"user","content":"hi"}],"seed":7}`, "seed"},
		{"logprobs", `{"messages":[{"role":"user","content":"hi"}],"logprobs":true}`, "logprobs"},
		{"audio", `{"messages":[{"role":"user","content":"hi"}],"audio":{"voice":"x"}}`, "audio"},
		{"unknown", `{"messages":[{"role":"user","content":"hi"}],"foo":1}`, "foo"},
		{"http image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"bad media", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AA=="}}]}]}`, "messages[0].content[0].image_url.url"},
		{"top_k", `{"messages":[{"role":"user","content":"hi"}],"top_k":3}`, "top_k"},
		{"json_object with tools", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"json_object"}}`, "response_format"},
		{"json_schema with tools auto", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, "response_format"},
		{"json_schema with forced tool", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, "response_format"},
		{"json_object with required, no tools", `{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required","response_format":{"type":"json_object"}}`, "response_format"},
		{"json_schema name collision", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none","response_format":{"type":"json_schema","json_schema":{"name":"f","schema":{"type":"object"}}}}`, "response_format.json_schema.name"},
		{"json_object name collision", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"json_response"}}],"tool_choice":"none","response_format":{"type":"json_object"}}`, "response_format"},
		{"json_schema with thinking", `{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, "response_format"},
		{"json_schema schema kind", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":"object"}}}`, "response_format.json_schema.schema"},
		{"json_schema unknown member", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","colour":"red"}}}`, "response_format.json_schema.colour"},
		{"response_format type", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"yaml"}}`, "response_format.type"},
		{"assistant first", `{"messages":[{"role":"assistant","content":"hi"}]}`, "messages[0].role"},
		{"tool history without tools", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}]}`, "tools"},
		{"none with tool history", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}`, "tool_choice"},
		{"parallel off", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false}`, "parallel_tool_calls"},
		{"thinking cap", `{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","max_tokens":500}`, "max_tokens"},
		{"wrong type", `{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`, "temperature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ToConverse([]byte(tt.body), Options{})
			pe, ok := errors.AsType[*openai.ParamError](err)
			if !ok || pe.Param != tt.param {
				t.Errorf("ToConverse(%s) error = %v, want ParamError for %q", tt.body, err, tt.param)
			}
		})
	}
}

func TestToConverseSyntaxError(t *testing.T) {
	_, err := ToConverse([]byte(`{"messages":`), Options{})
	if _, ok := errors.AsType[*openai.SyntaxError](err); !ok {
		t.Errorf("ToConverse(truncated) error = %T %v, want *openai.SyntaxError", err, err)
	}
}

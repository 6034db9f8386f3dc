package anthropic

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

var testOptions = Options{DefaultMaxTokens: 4096}

// TestToMessagesFixtures translates the recorded OpenAI requests.
func TestToMessagesFixtures(t *testing.T) {
	for _, name := range []string{
		"chat-text",
		"chat-tools",
		"chat-stream-tool-calls",
		"chat-stream-usage",
		"chat-image-base64",
		"chat-image-input",
		"chat-stream-parallel-tool-calls",
	} {
		t.Run(name, func(t *testing.T) {
			in := readFixture(t, "openai/"+name+".request.json")
			got, err := ToMessages(in, "claude-sonnet-4-5", testOptions)
			if err != nil {
				t.Fatalf("ToMessages(%s) error: %v", name, err)
			}
			checkCompact(t, got)
			golden(t, "tomessages/fixture-"+name+".want.json", indentJSON(t, got))
		})
	}
}

// TestToMessagesCases translates the hand-written requests in
// testdata/tomessages/*.in.json.
func TestToMessagesCases(t *testing.T) {
	ins, err := filepath.Glob("testdata/tomessages/*.in.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToMessages(body, "claude-sonnet-4-5", testOptions)
			if err != nil {
				t.Fatalf("ToMessages(%s) error: %v", name, err)
			}
			checkCompact(t, got)
			golden(t, "tomessages/"+name+".want.json", indentJSON(t, got))
		})
	}
}

func TestToMessagesDefaultMaxTokens(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}`)
	for _, tt := range []struct {
		opt  Options
		want int64
	}{
		{Options{}, 4096},
		{Options{DefaultMaxTokens: -1}, 4096},
		{Options{DefaultMaxTokens: 1000}, 1000},
	} {
		out, err := ToMessages(body, "claude", tt.opt)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			MaxTokens int64 `json:"max_tokens"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got.MaxTokens != tt.want {
			t.Errorf("ToMessages with %+v: max_tokens = %d, want %d", tt.opt, got.MaxTokens, tt.want)
		}
	}
}

// TestToMessagesParamErrors checks that each field that cannot be honoured
// is rejected with a 400 naming it.
func TestToMessagesParamErrors(t *testing.T) {
	const user = `"messages":[{"role":"user","content":"Hi"}]`
	const tools = `"tools":[{"type":"function","function":{"name":"f"}}]`
	tests := []struct {
		name, body, param string
	}{
		{"n", `{` + user + `,"n":2}`, "n"},
		{"seed", `{` + user + `,"seed":7}`, "seed"},
		{"logprobs", `{` + user + `,"logprobs":true}`, "logprobs"},
		{"top_logprobs", `{` + user + `,"top_logprobs":3}`, "top_logprobs"},
		{"frequency_penalty", `{` + user + `,"frequency_penalty":0.5}`, "frequency_penalty"},
		{"presence_penalty", `{` + user + `,"presence_penalty":-1}`, "presence_penalty"},
		{"logit_bias", `{` + user + `,"logit_bias":{"50256":-100}}`, "logit_bias"},
		{"audio", `{` + user + `,"audio":{"voice":"alloy","format":"wav"}}`, "audio"},
		{"modalities", `{` + user + `,"modalities":["text","audio"]}`, "modalities[1]"},
		{"prediction", `{` + user + `,"prediction":{"type":"content","content":"x"}}`, "prediction"},
		{"web_search_options", `{` + user + `,"web_search_options":{}}`, "web_search_options"},
		{"verbosity", `{` + user + `,"verbosity":"low"}`, "verbosity"},
		{"json_object with tools", `{` + user + `,` + tools + `,"response_format":{"type":"json_object"}}`, "response_format"},
		{"json_schema with tools auto", `{` + user + `,` + tools + `,"tool_choice":"auto","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, "response_format"},
		{"json_schema with forced tool", `{` + user + `,` + tools + `,"tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, "response_format"},
		{"json_object with required, no tools", `{` + user + `,"tool_choice":"required","response_format":{"type":"json_object"}}`, "response_format"},
		{"json_schema name collision", `{` + user + `,` + tools + `,"tool_choice":"none","response_format":{"type":"json_schema","json_schema":{"name":"f","schema":{"type":"object"}}}}`, "response_format.json_schema.name"},
		{"json_object name collision", `{` + user + `,"tools":[{"type":"function","function":{"name":"json_response"}}],"tool_choice":"none","response_format":{"type":"json_object"}}`, "response_format"},
		{"json_schema with thinking", `{` + user + `,"reasoning_effort":"low","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`, "response_format"},
		{"json_object with thinking", `{` + user + `,"reasoning_effort":"high","response_format":{"type":"json_object"}}`, "response_format"},
		{"json_schema schema kind", `{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":[]}}}`, "response_format.json_schema.schema"},
		{"json_schema unknown member", `{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","colour":"red"}}}`, "response_format.json_schema.colour"},
		{"json_schema name type", `{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":5}}}`, "response_format.json_schema.name"},
		{"response_format type", `{` + user + `,"response_format":{"type":"yaml"}}`, "response_format.type"},
		{"functions", `{` + user + `,"functions":[{"name":"f"}]}`, "functions"},
		{"function_call", `{` + user + `,"function_call":"auto"}`, "function_call"},
		{"unknown", `{` + user + `,"foo":1}`, "foo"},
		{"wrong type", `{` + user + `,"temperature":"hot"}`, "temperature"},
		{"temperature range", `{` + user + `,"temperature":1.5}`, "temperature"},
		{"max_tokens zero", `{` + user + `,"max_tokens":0}`, "max_tokens"},
		{"no messages", `{"messages":[]}`, "messages"},
		{"only system", `{"messages":[{"role":"system","content":"x"}]}`, "messages"},
		{"unknown role", `{"messages":[{"role":"narrator","content":"x"}]}`, "messages[0].role"},
		{"unknown message field", `{"messages":[{"role":"user","content":"x","colour":"red"}]}`, "messages[0].colour"},
		{"empty user", `{"messages":[{"role":"user","content":""}]}`, "messages[0].content"},
		{"content kind", `{"messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{"unknown part", `{"messages":[{"role":"user","content":[{"type":"video","text":"x"}]}]}`, "messages[0].content[0].type"},
		{"audio part", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}`, "messages[0].content[0].type"},
		{"file part", `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"f"}}]}]}`, "messages[0].content[0].type"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"x"}]}`, "messages[0].content[0].type"},
		{"image scheme", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"image media type", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AAAA"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"image not base64", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,AAAA"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"bad arguments", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}`, "messages[1].tool_calls[0].function.arguments"},
		{"array arguments", `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments"},
		{"user tool_calls", `{"messages":[{"role":"user","content":"x","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[0].tool_calls"},
		{"tool without id", `{"messages":[{"role":"user","content":"x"},{"role":"tool","content":"r"}]}`, "messages[1].tool_call_id"},
		{"message function_call", `{"messages":[{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]}`, "messages[0].function_call"},
		{"custom tool", `{` + user + `,"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type"},
		{"tool schema kind", `{` + user + `,"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]}`, "tools[0].function.parameters"},
		{"tool_choice without tools", `{` + user + `,"tool_choice":"required"}`, "tool_choice"},
		{"tool_choice value", `{` + user + `,` + tools + `,"tool_choice":"sometimes"}`, "tool_choice"},
		{"tool_choice allowed_tools", `{` + user + `,` + tools + `,"tool_choice":{"type":"allowed_tools","allowed_tools":{}}}`, "tool_choice.type"},
		{"reasoning_effort value", `{` + user + `,"reasoning_effort":"xhigh"}`, "reasoning_effort"},
		{"reasoning temperature", `{` + user + `,"reasoning_effort":"low","temperature":0.2}`, "temperature"},
		{"reasoning top_k", `{` + user + `,"reasoning_effort":"low","top_k":5}`, "top_k"},
		{"reasoning top_p", `{` + user + `,"reasoning_effort":"low","top_p":0.5}`, "top_p"},
		{"reasoning forced tool", `{` + user + `,` + tools + `,"reasoning_effort":"low","tool_choice":"required"}`, "tool_choice"},
		{"reasoning small cap", `{` + user + `,"reasoning_effort":"low","max_completion_tokens":1000}`, "max_completion_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ToMessages([]byte(tt.body), "claude", testOptions)
			pe, ok := errors.AsType[*ParamError](err)
			if !ok {
				t.Fatalf("ToMessages(%s) = %s, %v; want a *ParamError for %q", tt.body, out, err, tt.param)
			}
			if pe.Param != tt.param {
				t.Errorf("ToMessages(%s): Param = %q, want %q (message %q)", tt.body, pe.Param, tt.param, pe.Msg)
			}
			if !strings.Contains(pe.Msg, tt.param) && !strings.Contains(pe.Msg, strings.Split(tt.param, "[")[0]) {
				t.Errorf("ToMessages(%s): message %q does not name %q", tt.body, pe.Msg, tt.param)
			}
			// The gateway's renderer knows the scanner's error type.
			if _, ok := errors.AsType[*openai.ParamError](err); !ok {
				t.Errorf("error %T is not an *openai.ParamError", err)
			}
		})
	}
}

func TestToMessagesSyntaxError(t *testing.T) {
	_, err := ToMessages([]byte(`{"messages":[}`), "claude", testOptions)
	if _, ok := errors.AsType[*openai.SyntaxError](err); !ok {
		t.Errorf("ToMessages(invalid JSON) error = %T %v, want *openai.SyntaxError", err, err)
	}
}

package gemini

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// TestToGeminiFixtures translates every recorded OpenAI chat request.
func TestToGeminiFixtures(t *testing.T) {
	for _, name := range []string{"chat-text", "chat-tools", "chat-image-base64", "chat-image-input", "chat-stream-usage", "chat-stream-tool-calls", "chat-stream-parallel-tool-calls"} {
		t.Run(name, func(t *testing.T) {
			out, err := ToGemini(readFixture(t, "openai/"+name+".request.json"), Options{})
			if err != nil {
				t.Fatalf("ToGemini(%s): %v", name, err)
			}
			checkCompact(t, out)
			golden(t, "togemini/fixture-"+name+".want.json", indentJSON(t, out))
		})
	}
}

// TestToGeminiCases runs the hand-written requests of testdata/togemini.
func TestToGeminiCases(t *testing.T) {
	files, err := filepath.Glob("testdata/togemini/*.in.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".in.json")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ToGemini(in, Options{})
			if err != nil {
				t.Fatalf("ToGemini(%s): %v", in, err)
			}
			checkCompact(t, out)
			golden(t, "togemini/"+name+".want.json", indentJSON(t, out))
		})
	}
}

func TestToGeminiRejects(t *testing.T) {
	const user = `"messages":[{"role":"user","content":"Hi"}]`
	const tool = `"tools":[{"type":"function","function":{"name":"f"}}]`
	tests := []struct{ body, param string }{
		{`{` + user + `,"n":2}`, "n"},
		{`{` + user + `,"logprobs":true}`, "logprobs"},
		{`{` + user + `,"top_logprobs":2}`, "top_logprobs"},
		{`{` + user + `,"logit_bias":{"1":2}}`, "logit_bias"},
		{`{` + user + `,"audio":{"voice":"alloy","format":"mp3"}}`, "audio"},
		{`{` + user + `,"modalities":["text","audio"]}`, "modalities[1]"},
		{`{` + user + `,"prediction":{"type":"content","content":"x"}}`, "prediction"},
		{`{` + user + `,"web_search_options":{}}`, "web_search_options"},
		{`{` + user + `,"verbosity":"low"}`, "verbosity"},
		{`{` + user + `,"functions":[]}`, "functions"},
		{`{` + user + `,"frobnicate":1}`, "frobnicate"},
		{`{` + user + `,"temperature":"hot"}`, "temperature"},
		{`{` + user + `,"reasoning_effort":"max"}`, "reasoning_effort"},
		{`{` + user + `,"max_tokens":0}`, "max_tokens"},
		{`{` + user + `,"response_format":{"type":"xml"}}`, "response_format.type"},
		{`{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`, "response_format.json_schema.schema"},
		{`{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"$defs":{"n":{"$ref":"#/$defs/n"}},"type":"object","properties":{"a":{"$ref":"#/$defs/n"}}}}}}`, "response_format.json_schema.schema.properties.a" + strings.Repeat(".$ref", maxRefDepth+1)},
		{`{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"$ref":"#/x"}}}}}}`, "response_format.json_schema.schema.properties.a.$ref"},
		{`{` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":["string","integer"]}}}}`, "response_format.json_schema.schema.type"},
		{`{` + user + `,` + tool + `,"parallel_tool_calls":false}`, "parallel_tool_calls"},
		{`{` + user + `,"tool_choice":"auto"}`, "tool_choice"},
		{`{` + user + `,` + tool + `,"tool_choice":"sometimes"}`, "tool_choice"},
		{`{` + user + `,"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type"},
		{`{"messages":[]}`, "messages"},
		{`{"messages":[{"role":"system","content":"x"}]}`, "messages"},
		{`{"messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
		{`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, "messages[0].content[0].file"},
		{`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"ogg"}}]}]}`, "messages[0].content[0].input_audio.format"},
		{`{"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"call_9","content":"r"}]}`, "messages[1].tool_call_id"},
		{`{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{`{"messages":[{"role":"user","content":"x","tool_calls":[]}],"x":1}`, "x"},
	}
	for _, tt := range tests {
		out, err := ToGemini([]byte(tt.body), Options{})
		pe, ok := errors.AsType[*ParamError](err)
		if !ok {
			t.Errorf("ToGemini(%s) = %s, %v; want a *ParamError for %q", tt.body, out, err, tt.param)
			continue
		}
		if pe.Param != tt.param {
			t.Errorf("ToGemini(%s) param = %q (%s), want %q", tt.body, pe.Param, pe.Msg, tt.param)
		}
	}
	if _, err := ToGemini([]byte(`{"messages":[`), Options{}); !isSyntaxError(err) {
		t.Errorf("ToGemini(truncated) error = %v, want *openai.SyntaxError", err)
	}
}

func isSyntaxError(err error) bool {
	_, ok := errors.AsType[*openai.SyntaxError](err)
	return ok
}

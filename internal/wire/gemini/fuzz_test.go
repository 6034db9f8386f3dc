package gemini

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzStream feeds arbitrary payloads, after a real first event, to a
// Stream: it must never panic, must append nothing on error, and must only
// ever append complete "data: " events holding valid JSON (or [DONE]).
func FuzzStream(f *testing.F) {
	for _, payloads := range streamCases(f) {
		for _, p := range payloads {
			f.Add(p)
		}
	}
	f.Add([]byte(`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"\ud83d\ude00","args":null}}]},"finishReason":"STOP"}]}`))
	f.Add([]byte(`{"candidates":[{"content":{"parts":[{"text":"\u2028\"","thought":true}]}}],"usageMetadata":{"promptTokenCount":1e30}}`))
	f.Add([]byte(`{"error":{"code":"x","status":1}}`))
	f.Add([]byte(`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":[1,`))
	f.Add([]byte(`{"candidates":[],"promptFeedback":{"blockReason":"OTHER"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStream("m\"\u2028", true)
		out, err := s.Event(nil, []byte(`{"candidates":[{"content":{"parts":[{"text":"a"}],"role":"model"}}],"responseId":"r"}`))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the same payload twice: state must stay consistent
			before := len(out)
			out, err = s.Event(out, data)
			if err != nil && len(out) != before {
				t.Fatalf("Event(%q) appended %q with error %v", data, out[before:], err)
			}
		}
		out = s.Finish(out)
		for rest := out; len(rest) > 0; {
			line, r, ok := bytes.Cut(rest, []byte("\n\n"))
			payload, isData := bytes.CutPrefix(line, []byte("data: "))
			if !ok || !isData {
				t.Fatalf("Event(%q) appended a broken SSE event: %q", data, rest)
			}
			if string(payload) != "[DONE]" && !jsontext.Value(payload).IsValid() {
				t.Fatalf("Event(%q) appended invalid JSON: %s", data, payload)
			}
			rest = r
		}
	})
}

// FuzzToGemini checks that ToGemini never panics and that whatever it
// accepts comes out as valid, compact JSON.
func FuzzToGemini(f *testing.F) {
	for _, name := range []string{"chat-text", "chat-tools", "chat-image-base64", "chat-stream-parallel-tool-calls"} {
		f.Add(readFixture(f, "openai/"+name+".request.json"))
	}
	f.Add([]byte(`{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":[1,{}]}"}}]},{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"{\"x\":1}"}]}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"$defs":{"a":{"type":["null","string"]}},"type":"object","properties":{"p":{"$ref":"#/$defs/a"}}}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ToGemini(body, Options{})
		if err != nil {
			return
		}
		v := jsontext.Value(bytes.Clone(out))
		if err := v.Compact(); err != nil || !bytes.Equal(v, out) {
			t.Fatalf("ToGemini(%s) = %s: not compact JSON (%v)", body, out, err)
		}
	})
}

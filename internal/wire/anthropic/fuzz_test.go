package anthropic

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzStream feeds arbitrary event names and data, after a real stream
// prefix, to a Stream: it must never panic, must append nothing on error,
// and must only ever append complete "data: " events holding valid JSON
// (or [DONE]).
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "anthropic", "*.sse"))
	for _, file := range files {
		for _, ev := range readEvents(f, readFixture(f, "anthropic/"+filepath.Base(file))) {
			f.Add(string(ev.name), ev.data)
		}
	}
	f.Add("", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t\u00e9","name":"\ud83d\ude00"}}`))
	f.Add("content_block_delta", []byte(`{"type":"content_block_delta","index":-1,"delta":{"type":"input_json_delta","partial_json":"\"\\"}}`))
	f.Add("message_delta", []byte(`{"delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":1e30}}`))
	f.Add("error", []byte(`{"error":{"type":1,"message":null}}`))
	f.Add("message_start", []byte(`{"message":"msg_"}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		s := NewStream("m\"\u2028", true)
		// A real start, so later events have blocks to refer to.
		out, err := s.Event(nil, []byte("message_start"), []byte(`{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":1}}}`))
		if err != nil {
			t.Fatal(err)
		}
		out, err = s.Event(out, []byte("content_block_start"), []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}`))
		if err != nil {
			t.Fatal(err)
		}
		n := len(out)
		for range 2 { // the same event twice: state must stay consistent
			before := len(out)
			out, err = s.Event(out, []byte(name), data)
			if err != nil && len(out) != before {
				t.Fatalf("Event(%q, %q) appended %q with error %v", name, data, out[before:], err)
			}
		}
		out, _ = s.Event(out, []byte("message_stop"), []byte(`{"type":"message_stop"}`))
		for rest := out[n:]; len(rest) > 0; {
			line, r, ok := bytes.Cut(rest, []byte("\n\n"))
			payload, isData := bytes.CutPrefix(line, []byte("data: "))
			if !ok || !isData {
				t.Fatalf("Event(%q, %q) appended a broken SSE event: %q", name, data, rest)
			}
			if string(payload) != "[DONE]" && !jsontext.Value(payload).IsValid() {
				t.Fatalf("Event(%q, %q) appended invalid JSON: %s", name, data, payload)
			}
			rest = r
		}
	})
}

// FuzzToMessages checks that ToMessages never panics and that whatever it
// accepts comes out as valid, compact JSON.
func FuzzToMessages(f *testing.F) {
	for _, name := range []string{"chat-text", "chat-tools", "chat-image-base64", "chat-stream-parallel-tool-calls"} {
		f.Add(readFixture(f, "openai/"+name+".request.json"))
	}
	f.Add([]byte(`{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":[1,{}]}"}}]},{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"x"}]}],"reasoning_effort":"high","max_tokens":2000}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ToMessages(body, "claude", Options{})
		if err != nil {
			return
		}
		v := jsontext.Value(bytes.Clone(out))
		if err := v.Compact(); err != nil || !bytes.Equal(v, out) {
			t.Fatalf("ToMessages(%s) = %s: not compact JSON (%v)", body, out, err)
		}
	})
}

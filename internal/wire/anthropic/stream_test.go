package anthropic

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	oai "github.com/openai/openai-go/v3"

	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// sseEvent is a copy of one parsed SSE event.
type sseEvent struct{ name, data []byte }

// readEvents parses an SSE body with the gateway's reader.
func readEvents(t testing.TB, body []byte) []sseEvent {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(body))
	var evs []sseEvent
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatalf("sse: %v", err)
		}
		evs = append(evs, sseEvent{bytes.Clone(ev.Name), bytes.Clone(ev.Data)})
	}
}

// translate runs every event through a new Stream, checking that each call
// appends only whole OpenAI events.
func translate(t testing.TB, evs []sseEvent, includeUsage bool) (*Stream, []byte) {
	t.Helper()
	s := NewStream("gpt-4o", includeUsage)
	var out []byte
	for _, ev := range evs {
		n := len(out)
		var err error
		out, err = s.Event(out, ev.name, ev.data)
		if err != nil {
			t.Fatalf("Event(%s, %s): %v", ev.name, ev.data, err)
		}
		checkChunks(t, out[n:])
	}
	return s, out
}

// checkChunks fails unless b is zero or more complete "data: …\n\n"
// events, each compact JSON or [DONE].
func checkChunks(t testing.TB, b []byte) {
	t.Helper()
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\n\n"))
		payload, isData := bytes.CutPrefix(line, []byte("data: "))
		if !ok || !isData || bytes.IndexByte(line, '\n') >= 0 {
			t.Fatalf("not a complete SSE data event: %q", b)
		}
		if string(payload) != "[DONE]" {
			checkCompact(t, payload)
		}
		b = rest
	}
}

func anthropicStreams(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(fixtures, "anthropic", "*.sse"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Anthropic stream fixtures: %v", err)
	}
	return files
}

// TestStreamFixtures translates every recorded Anthropic stream.
func TestStreamFixtures(t *testing.T) {
	for _, file := range anthropicStreams(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".sse")
		t.Run(name, func(t *testing.T) {
			evs := readEvents(t, readFixture(t, "anthropic/"+name+".sse"))
			s, out := translate(t, evs, true)
			golden(t, "stream/"+name+".want.sse", out)

			// Without include_usage only the usage chunk goes.
			_, noUsage := translate(t, evs, false)
			var want []byte
			for chunk := range bytes.SplitAfterSeq(out, []byte("\n\n")) {
				if !bytes.Contains(chunk, []byte(`"choices":[],"usage":`)) {
					want = append(want, chunk...)
				}
			}
			if !bytes.Equal(noUsage, want) {
				t.Errorf("stream without include_usage:\n%s\nwant:\n%s", noUsage, want)
			}

			errorStream := strings.Contains(name, "error")
			if s.Done() == errorStream {
				t.Errorf("Done() = %v, want %v", s.Done(), !errorStream)
			}
			if errorStream {
				if !bytes.HasSuffix(out, []byte("data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}\n\n")) {
					t.Errorf("error stream does not end with the OpenAI error event:\n%s", out)
				}
				if bytes.Contains(out, []byte("[DONE]")) {
					t.Errorf("error stream has [DONE]")
				}
			}
		})
	}
}

func TestStreamUsage(t *testing.T) {
	tests := map[string]Usage{
		"messages-stream-text":              {PromptTokens: 17, CompletionTokens: 10},
		"messages-stream-thinking":          {PromptTokens: 46, CompletionTokens: 133},
		"messages-stream-parallel-tool-use": {PromptTokens: 542, CompletionTokens: 62},
		// message_delta's cumulative input count (server tool use)
		// replaces message_start's.
		"messages-stream-tool-use":         {PromptTokens: 1591, CompletionTokens: 175},
		"messages-image-base64":            {PromptTokens: 83, CompletionTokens: 9},
		"messages-stream-error-overloaded": {PromptTokens: 20, CompletionTokens: 1},
	}
	for name, want := range tests {
		s, _ := translate(t, readEvents(t, readFixture(t, "anthropic/"+name+".sse")), false)
		if diff := cmp.Diff(want, s.Usage()); diff != "" {
			t.Errorf("%s: Usage() mismatch (-want +got):\n%s", name, diff)
		}
	}
}

// TestStreamConsumable feeds the translated chunks to the official OpenAI
// Go SDK's accumulator and to the gateway's own chunk reader, and checks
// that they add up to what FromMessage makes of the same answer
// delivered whole.
func TestStreamConsumable(t *testing.T) {
	for _, file := range anthropicStreams(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".sse")
		if strings.Contains(name, "error") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			evs := readEvents(t, readFixture(t, "anthropic/"+name+".sse"))
			s, out := translate(t, evs, true)

			// The SDK view.
			var acc oai.ChatCompletionAccumulator
			var reasoning strings.Builder
			var finish string
			var usage openai.Usage
			sawDone := false
			for chunk := range bytes.SplitAfterSeq(out, []byte("\n\n")) {
				if len(chunk) == 0 {
					continue
				}
				payload := bytes.TrimSuffix(bytes.TrimPrefix(chunk, []byte("data: ")), []byte("\n\n"))
				if string(payload) == "[DONE]" {
					sawDone = true
					continue
				}
				var c oai.ChatCompletionChunk
				if err := c.UnmarshalJSON(payload); err != nil {
					t.Fatalf("SDK cannot decode chunk %s: %v", payload, err)
				}
				if !acc.AddChunk(c) {
					t.Fatalf("SDK accumulator rejected chunk %s", payload)
				}
				var r struct {
					Choices []struct {
						Delta struct {
							ReasoningContent string `json:"reasoning_content"`
						} `json:"delta"`
					} `json:"choices"`
				}
				if err := json.Unmarshal(payload, &r); err != nil {
					t.Fatal(err)
				}
				for _, ch := range r.Choices {
					reasoning.WriteString(ch.Delta.ReasoningContent)
				}
				// The gateway's own fast reader.
				sc, err := openai.ScanChunk(payload)
				if err != nil {
					t.Fatalf("openai.ScanChunk(%s): %v", payload, err)
				}
				if sc.FinishReason != "" {
					finish = sc.FinishReason
				}
				if sc.HasUsage {
					usage = sc.Usage
				}
			}
			if !sawDone {
				t.Errorf("no [DONE]")
			}

			// The whole-answer view.
			whole, wantUsage, err := FromMessage(collectMessage(t, evs), "gpt-4o")
			if err != nil {
				t.Fatalf("FromMessage: %v", err)
			}
			var want oai.ChatCompletion
			if err := want.UnmarshalJSON(whole); err != nil {
				t.Fatal(err)
			}
			var wantReasoning struct {
				Choices []struct {
					Message struct {
						ReasoningContent string `json:"reasoning_content"`
					} `json:"message"`
				} `json:"choices"`
			}
			if err := json.Unmarshal(whole, &wantReasoning); err != nil {
				t.Fatal(err)
			}

			if len(acc.Choices) != 1 {
				t.Fatalf("accumulated %d choices, want 1", len(acc.Choices))
			}
			got, wm := acc.Choices[0], want.Choices[0]
			if got.Message.Content != wm.Message.Content {
				t.Errorf("streamed content = %q, whole = %q", got.Message.Content, wm.Message.Content)
			}
			if g, w := reasoning.String(), wantReasoning.Choices[0].Message.ReasoningContent; g != w {
				t.Errorf("streamed reasoning_content = %q, whole = %q", g, w)
			}
			if got.FinishReason != wm.FinishReason || finish != wm.FinishReason {
				t.Errorf("finish_reason: SDK %q, ScanChunk %q, whole %q", got.FinishReason, finish, wm.FinishReason)
			}
			type call struct{ ID, Name, Args string }
			calls := func(tcs []oai.ChatCompletionMessageToolCallUnion) []call {
				var cs []call
				for _, tc := range tcs {
					args := jsontext.Value(tc.Function.Arguments)
					if err := args.Compact(); err != nil {
						t.Errorf("tool call %s arguments %q are not JSON: %v", tc.ID, tc.Function.Arguments, err)
					}
					cs = append(cs, call{tc.ID, tc.Function.Name, string(args)})
				}
				return cs
			}
			if diff := cmp.Diff(calls(wm.Message.ToolCalls), calls(got.Message.ToolCalls)); diff != "" {
				t.Errorf("tool calls mismatch (-whole +streamed):\n%s", diff)
			}
			if got, want := acc.Usage.PromptTokens, want.Usage.PromptTokens; got != want {
				t.Errorf("SDK usage prompt_tokens = %d, want %d", got, want)
			}
			if acc.Usage.CompletionTokens != want.Usage.CompletionTokens || acc.Usage.PromptTokensDetails.CachedTokens != want.Usage.PromptTokensDetails.CachedTokens {
				t.Errorf("SDK usage = %+v, want %+v", acc.Usage, want.Usage)
			}
			if usage.PromptTokens != wantUsage.PromptTokens || usage.CompletionTokens != wantUsage.CompletionTokens {
				t.Errorf("ScanChunk usage = %+v, want %+v", usage, wantUsage)
			}
			if diff := cmp.Diff(wantUsage, s.Usage()); diff != "" {
				t.Errorf("Stream.Usage() mismatch (-whole +stream):\n%s", diff)
			}
		})
	}
}

// collectMessage rebuilds the non-streamed Message an Anthropic stream
// stands for, following the Messages streaming docs.
func collectMessage(t testing.TB, evs []sseEvent) []byte {
	t.Helper()
	type block = map[string]any
	var msg map[string]any
	var blocks []block
	var partial []string
	for _, ev := range evs {
		var e struct {
			Type         string         `json:"type"`
			Index        int            `json:"index"`
			Message      map[string]any `json:"message"`
			ContentBlock block          `json:"content_block"`
			Delta        map[string]any `json:"delta"`
			Usage        map[string]any `json:"usage"`
		}
		if err := json.Unmarshal(ev.data, &e); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case "message_start":
			msg = e.Message
		case "content_block_start":
			blocks = append(blocks, e.ContentBlock)
			partial = append(partial, "")
		case "content_block_delta":
			b := blocks[e.Index]
			switch e.Delta["type"] {
			case "text_delta":
				b["text"] = b["text"].(string) + e.Delta["text"].(string)
			case "thinking_delta":
				b["thinking"] = b["thinking"].(string) + e.Delta["thinking"].(string)
			case "input_json_delta":
				partial[e.Index] += e.Delta["partial_json"].(string)
			}
		case "content_block_stop":
			if p := partial[e.Index]; p != "" {
				blocks[e.Index]["input"] = jsontext.Value(p)
			}
		case "message_delta":
			msg["stop_reason"] = e.Delta["stop_reason"]
			u := msg["usage"].(map[string]any)
			for k, v := range e.Usage {
				u[k] = v
			}
		}
	}
	msg["content"] = blocks
	b, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamEdgeCases(t *testing.T) {
	start := `{"type":"message_start","message":{"id":"msg_X","usage":{"input_tokens":3,"output_tokens":1}}}`
	tests := []struct {
		name   string
		events [][2]string
		want   string
	}{
		{"ping", [][2]string{{"ping", `{"type": "ping"}`}}, ""},
		{"unknown event", [][2]string{{"future_event", `{"type":"future_event","x":[1,2]}`}}, ""},
		{"name from type", [][2]string{{"", start}}, `data: {"id":"chatcmpl-X","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n"},
		{"escaped text passes through", [][2]string{
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\"b\\c\n\u00e9\ud83d\ude00"}}`},
		}, `data: {"id":"chatcmpl-","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"a\"b\\c\n\u00e9\ud83d\ude00"},"logprobs":null,"finish_reason":null}]}` + "\n\n"},
		{"empty deltas dropped", [][2]string{
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}`},
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":""}}`},
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}`},
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}`},
		}, ""},
		{"server tool not forwarded", [][2]string{
			{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}`},
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"q\":1}"}}`},
			{"content_block_stop", `{"type":"content_block_stop","index":0}`},
		}, ""},
		{"delta for unknown block", [][2]string{
			{"content_block_delta", `{"type":"content_block_delta","index":7,"delta":{"type":"input_json_delta","partial_json":"{}"}}`},
			{"content_block_stop", `{"type":"content_block_stop","index":7}`},
		}, ""},
		{"after stop", [][2]string{
			{"message_stop", `{"type":"message_stop"}`},
			{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}`},
			{"message_stop", `{"type":"message_stop"}`},
		}, "data: [DONE]\n\n"},
		{"null stop_reason", [][2]string{
			{"message_delta", `{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":5}}`},
		}, ""},
		{"error event with unknown type", [][2]string{
			{"error", `{"type":"error","error":{"type":"mystery_error","message":"huh"}}`},
		}, `data: {"error":{"message":"huh","type":"mystery_error","param":null,"code":null}}` + "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream("gpt-4o", false)
			var out []byte
			for _, ev := range tt.events {
				var err error
				if out, err = s.Event(out, []byte(ev[0]), []byte(ev[1])); err != nil {
					t.Fatalf("Event(%s, %s): %v", ev[0], ev[1], err)
				}
			}
			if string(out) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
}

func TestStreamBadData(t *testing.T) {
	for _, data := range []string{``, `not json`, `[1]`, `{"type":"content_block_delta","index":"x"`, `{"type":"message_delta","usage":{"output_tokens":1.5}}`} {
		s := NewStream("m", true)
		out, err := s.Event([]byte("prefix"), []byte("content_block_delta"), []byte(data))
		if err == nil {
			t.Errorf("Event(%q) succeeded, want an error", data)
		}
		if string(out) != "prefix" {
			t.Errorf("Event(%q) appended %q on error", data, out)
		}
		if !strings.HasPrefix(err.Error(), "anthropic: decode stream event") {
			t.Errorf("Event(%q) error %q lacks the operation prefix", data, err)
		}
	}
}

// TestStreamJSON replays the recorded tool-use stream as the answer to a
// request with response_format, its client tool renamed to the JSON
// tool's: the SDK must accumulate the tool's input as content, with no
// tool calls and finish_reason "stop", as FromMessageJSON has it.
func TestStreamJSON(t *testing.T) {
	const jsonTool = "json_response"
	raw := bytes.ReplaceAll(readFixture(t, "anthropic/messages-stream-tool-use.sse"), []byte(`"name":"get_exchange_rate"`), []byte(`"name":"`+jsonTool+`"`))
	evs := readEvents(t, raw)
	s := NewStreamJSON("gpt-4o", true, jsonTool)
	var out []byte
	for _, ev := range evs {
		n := len(out)
		var err error
		if out, err = s.Event(out, ev.name, ev.data); err != nil {
			t.Fatalf("Event(%s, %s): %v", ev.name, ev.data, err)
		}
		checkChunks(t, out[n:])
	}
	golden(t, "stream/json-messages-stream-tool-use.want.sse", out)

	var acc oai.ChatCompletionAccumulator
	for chunk := range bytes.SplitAfterSeq(out, []byte("\n\n")) {
		payload := bytes.TrimSuffix(bytes.TrimPrefix(chunk, []byte("data: ")), []byte("\n\n"))
		if len(payload) == 0 || string(payload) == "[DONE]" {
			continue
		}
		var c oai.ChatCompletionChunk
		if err := c.UnmarshalJSON(payload); err != nil {
			t.Fatalf("SDK cannot decode chunk %s: %v", payload, err)
		}
		if !acc.AddChunk(c) {
			t.Fatalf("SDK accumulator rejected chunk %s", payload)
		}
	}
	whole, _, err := FromMessageJSON(collectMessage(t, evs), "gpt-4o", jsonTool)
	if err != nil {
		t.Fatal(err)
	}
	var want oai.ChatCompletion
	if err := want.UnmarshalJSON(whole); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("accumulated %d choices, want 1", len(acc.Choices))
	}
	got := acc.Choices[0]
	content := jsontext.Value(got.Message.Content)
	if err := content.Compact(); err != nil {
		t.Fatalf("streamed content %q is not JSON: %v", got.Message.Content, err)
	}
	if string(content) != want.Choices[0].Message.Content || string(content) != `{"from_currency":"USD","to_currency":"EUR"}` {
		t.Errorf("streamed content = %s, whole = %s, want {\"from_currency\":\"USD\",\"to_currency\":\"EUR\"}", content, want.Choices[0].Message.Content)
	}
	if len(got.Message.ToolCalls) != 0 || len(want.Choices[0].Message.ToolCalls) != 0 {
		t.Errorf("tool calls: streamed %+v, whole %+v; want none", got.Message.ToolCalls, want.Choices[0].Message.ToolCalls)
	}
	if got.FinishReason != "stop" || want.Choices[0].FinishReason != "stop" {
		t.Errorf("finish_reason: streamed %q, whole %q; want stop", got.FinishReason, want.Choices[0].FinishReason)
	}
	if acc.Usage.PromptTokens != want.Usage.PromptTokens || acc.Usage.CompletionTokens != want.Usage.CompletionTokens {
		t.Errorf("usage = %+v, want %+v", acc.Usage, want.Usage)
	}

	// A forced tool whose input streamed no fragment answers "{}".
	s = NewStreamJSON("gpt-4o", false, jsonTool)
	out = nil
	for _, ev := range [][2]string{
		{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"json_response","input":{}}}`},
		{"content_block_stop", `{"type":"content_block_stop","index":0}`},
	} {
		if out, err = s.Event(out, []byte(ev[0]), []byte(ev[1])); err != nil {
			t.Fatal(err)
		}
	}
	if want := `data: {"id":"chatcmpl-","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"{}"},"logprobs":null,"finish_reason":null}]}` + "\n\n"; string(out) != want {
		t.Errorf("empty JSON tool input:\n%s\nwant:\n%s", out, want)
	}
}

package anthropic

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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

// errorText is the golden form of a translation error.
func errorText(err error) []byte {
	var pe *ParamError
	if errors.As(err, &pe) {
		return fmt.Appendf(nil, "ParamError %s: %s\n", pe.Param, pe.Msg)
	}
	return fmt.Appendf(nil, "error: %v\n", err)
}

// goldenResult compares a JSON result with <base>.want.json, or an error
// with <base>.want.err; exactly one of the two files may exist.
func goldenResult(t *testing.T, base string, out []byte, err error) {
	t.Helper()
	jsonFile, errFile := base+".want.json", base+".want.err"
	if err != nil {
		golden(t, errFile, errorText(err))
		if _, statErr := os.Stat(filepath.Join("testdata", jsonFile)); statErr == nil {
			t.Errorf("got error %v, but %s exists", err, jsonFile)
		}
		return
	}
	checkCompact(t, out)
	golden(t, jsonFile, indentJSON(t, out))
	if _, statErr := os.Stat(filepath.Join("testdata", errFile)); statErr == nil {
		t.Errorf("got no error, but %s exists", errFile)
	}
}

// TestFromMessagesRequestFixtures translates the recorded Anthropic
// requests.
func TestFromMessagesRequestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtures, "anthropic", "*.request.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Anthropic request fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".request.json")
		t.Run(name, func(t *testing.T) {
			out, err := FromMessagesRequest(readFixture(t, "anthropic/"+name+".request.json"), "gpt-4o")
			goldenResult(t, "inbound/request/fixture-"+name, out, err)
		})
	}
}

// TestFromMessagesRequestCases translates the hand-written requests in
// testdata/inbound/request/*.in.json.
func TestFromMessagesRequestCases(t *testing.T) {
	ins, err := filepath.Glob("testdata/inbound/request/*.in.json")
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
			out, err := FromMessagesRequest(body, "gpt-4o")
			if strings.HasPrefix(name, "error-") != (err != nil) {
				t.Errorf("FromMessagesRequest(%s) error = %v; cases named error-* must fail, others succeed", name, err)
			}
			goldenResult(t, "inbound/request/"+name, out, err)
			if err == nil {
				checkChatRequest(t, out)
			}
		})
	}
}

// checkChatRequest decodes a translated request with the official OpenAI
// SDK's types, as an OpenAI-compatible server would.
func checkChatRequest(t *testing.T, body []byte) {
	t.Helper()
	var p oai.ChatCompletionNewParams
	if err := p.UnmarshalJSON(body); err != nil {
		t.Errorf("OpenAI SDK cannot decode the request: %v\n%s", err, body)
	}
	if _, err := openai.ScanChat(body, allowTopK); err != nil {
		t.Errorf("openai.ScanChat rejects the request: %v\n%s", err, body)
	}
}

func TestFromMessagesRequestParamErrors(t *testing.T) {
	for _, tt := range []struct {
		body, param string
	}{
		{`{"max_tokens":1,"messages":[{"role":"user","content":"x"}],"mcp_servers":[]}`, "mcp_servers"},
		{`{"max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"document"}]}]}`, "messages.0.content.1.type"},
		{`{"max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`, "messages.0.content.0.text"},
		{`{"max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":[1]}]}]}`, "messages.0.content.0.input"},
		{`{"max_tokens":1,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"sometimes"}}`, "thinking.type"},
		{`{"max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"a","input_schema":{}}],"tool_choice":{"type":"tool"}}`, "tool_choice.name"},
		{`{"max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"a"}]}`, "tools.0.input_schema"},
		{`{"max_tokens":1,"messages":[{"role":"user"}]}`, "messages.0.content"},
	} {
		_, err := FromMessagesRequest([]byte(tt.body), "m")
		pe, ok := errors.AsType[*ParamError](err)
		if !ok {
			t.Errorf("FromMessagesRequest(%s) = %v, want a *ParamError", tt.body, err)
			continue
		}
		if pe.Param != tt.param {
			t.Errorf("FromMessagesRequest(%s) param = %q, want %q (%s)", tt.body, pe.Param, tt.param, pe.Msg)
		}
	}
	if _, err := FromMessagesRequest([]byte(`{"messages":[`), "m"); !isSyntaxError(err) {
		t.Errorf("FromMessagesRequest(truncated) = %v, want an *openai.SyntaxError", err)
	}
}

// allowTopK lets openai.ScanChat accept top_k, the extension
// FromMessagesRequest passes through.
func allowTopK(name string) bool { return name == "top_k" }

func isSyntaxError(err error) bool {
	_, ok := errors.AsType[*openai.SyntaxError](err)
	return ok
}

// toMessageFixtures are the recorded chat.completion bodies ToMessage
// translates.
var toMessageFixtures = []string{
	"openai/chat-text.response.json",
	"openai/chat-text-raw.response.json",
	"openai/chat-tools.response.json",
	"openai/chat-image-input.response.json",
	"azure/chat-completions.response.json",
	"azure/chat-completion-filtered-output.response.json",
	"groq/chat-text.response.json",
	"mistral/chat-text.response.json",
}

func TestToMessageFixtures(t *testing.T) {
	for _, f := range toMessageFixtures {
		name := strings.ReplaceAll(strings.TrimSuffix(f, ".response.json"), "/", "-")
		t.Run(name, func(t *testing.T) {
			out, _, err := ToMessage(readFixture(t, f), "claude-sonnet-4-5")
			if err != nil {
				t.Fatalf("ToMessage: %v", err)
			}
			goldenResult(t, "inbound/message/fixture-"+name, out, nil)
		})
	}
}

func TestToMessageCases(t *testing.T) {
	ins, err := filepath.Glob("testdata/inbound/message/*.in.json")
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
			out, _, err := ToMessage(body, "claude-sonnet-4-5")
			if strings.HasPrefix(name, "error-") != (err != nil) {
				t.Errorf("ToMessage(%s) error = %v; cases named error-* must fail, others succeed", name, err)
			}
			goldenResult(t, "inbound/message/"+name, out, err)
		})
	}
}

func TestToMessageUsage(t *testing.T) {
	body, err := os.ReadFile("testdata/inbound/message/reasoning-tools.in.json")
	if err != nil {
		t.Fatal(err)
	}
	out, usage, err := ToMessage(body, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{PromptTokens: 100, CompletionTokens: 50, CachedTokens: 64, ReasoningTokens: 20}
	if diff := cmp.Diff(want, usage); diff != "" {
		t.Errorf("ToMessage usage mismatch (-want +got):\n%s", diff)
	}
	m := decodeMessage(t, out)
	if m.Usage != (accUsage{InputTokens: 36, CacheReadInputTokens: 64, OutputTokens: 50}) {
		t.Errorf("Message usage = %+v, want input 36, cache read 64, output 50", m.Usage)
	}
}

// accBlock and accMessage are the parts of an Anthropic Message the tests
// compare between the streamed and the whole answer.
type accBlock struct {
	Type     string         `json:"type"`
	Text     string         `json:"text,omitzero"`
	Thinking string         `json:"thinking,omitzero"`
	ID       string         `json:"id,omitzero"`
	Name     string         `json:"name,omitzero"`
	Input    jsontext.Value `json:"input,omitzero"`
}

type accUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

type accMessage struct {
	ID         string     `json:"id"`
	Model      string     `json:"model"`
	Content    []accBlock `json:"content"`
	StopReason string     `json:"stop_reason"`
	Usage      accUsage   `json:"usage"`
}

func decodeMessage(t testing.TB, b []byte) accMessage {
	t.Helper()
	var m accMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode Message %s: %v", b, err)
	}
	for i := range m.Content {
		if in := m.Content[i].Input; in != nil {
			if err := in.Compact(); err != nil {
				t.Fatalf("tool input %s: %v", in, err)
			}
		}
	}
	return m
}

// anthropicEvent is one Anthropic stream event as the checker reads it.
type anthropicEvent struct {
	Type    string `json:"type"`
	Index   *int64 `json:"index"`
	Message *struct {
		ID           string         `json:"id"`
		Type         string         `json:"type"`
		Role         string         `json:"role"`
		Model        string         `json:"model"`
		Content      []any          `json:"content"`
		StopReason   jsontext.Value `json:"stop_reason"`
		StopSequence jsontext.Value `json:"stop_sequence"`
		Usage        accUsage       `json:"usage"`
	} `json:"message"`
	ContentBlock *struct {
		Type      string         `json:"type"`
		Text      *string        `json:"text"`
		Thinking  *string        `json:"thinking"`
		Signature *string        `json:"signature"`
		ID        string         `json:"id"`
		Name      string         `json:"name"`
		Input     jsontext.Value `json:"input"`
	} `json:"content_block"`
	Delta *struct {
		Type         string         `json:"type"`
		Text         string         `json:"text"`
		Thinking     string         `json:"thinking"`
		PartialJSON  string         `json:"partial_json"`
		StopReason   string         `json:"stop_reason"`
		StopSequence jsontext.Value `json:"stop_sequence"`
	} `json:"delta"`
	Usage *accUsage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// streamResult is what checkAnthropicStream makes of a stream.
type streamResult struct {
	msg      accMessage
	complete bool   // ended with message_stop
	errType  string // type of the error event that ended it
}

// checkAnthropicStream parses an Anthropic SSE body with the gateway's
// reader, checks the event discipline Anthropic clients rely on —
// message_start first; blocks started at index 0, 1, …, one open at a
// time, each delta of its block's kind, every start stopped; message_delta
// with no block open; message_stop or error last — and accumulates the
// message. With strictInput, tool inputs must add up to JSON objects.
func checkAnthropicStream(t testing.TB, body []byte, strictInput bool) streamResult {
	t.Helper()
	var res streamResult
	m := &res.msg
	r := sse.NewReader(bytes.NewReader(body))
	open := int64(-1)
	var input []byte
	sawDelta, ended := false, false
	for i := 0; ; i++ {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("event %d: sse: %v", i, err)
		}
		if ended {
			t.Fatalf("event %d (%s) after the end of the stream", i, e.Name)
		}
		checkCompact(t, e.Data)
		var ev anthropicEvent
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, e.Data)
		}
		if ev.Type != string(e.Name) {
			t.Fatalf("event %d: name %q, data type %q", i, e.Name, ev.Type)
		}
		if i == 0 && ev.Type != "message_start" && ev.Type != "error" {
			t.Fatalf("first event is %s, want message_start", ev.Type)
		}
		index := func() int64 {
			if ev.Index == nil {
				t.Fatalf("event %d (%s) has no index", i, ev.Type)
			}
			return *ev.Index
		}
		switch ev.Type {
		case "message_start":
			if i != 0 || ev.Message == nil {
				t.Fatalf("event %d: misplaced or empty message_start: %s", i, e.Data)
			}
			mm := ev.Message
			if mm.Type != "message" || mm.Role != "assistant" || len(mm.Content) != 0 || string(mm.StopReason) != "null" || string(mm.StopSequence) != "null" || !strings.HasPrefix(mm.ID, "msg_") {
				t.Errorf("message_start message = %s", e.Data)
			}
			m.ID, m.Model, m.Usage = mm.ID, mm.Model, mm.Usage
		case "content_block_start":
			if open >= 0 || sawDelta {
				t.Fatalf("event %d: content_block_start while block %d is open or after message_delta", i, open)
			}
			if got := index(); got != int64(len(m.Content)) {
				t.Fatalf("event %d: content_block_start index %d, want %d", i, got, len(m.Content))
			}
			cb := ev.ContentBlock
			b := accBlock{Type: cb.Type}
			switch cb.Type {
			case "text":
				if cb.Text == nil || *cb.Text != "" {
					t.Errorf("text block start %s: want text \"\"", e.Data)
				}
			case "thinking":
				if cb.Thinking == nil || cb.Signature == nil {
					t.Errorf("thinking block start %s: want thinking and signature", e.Data)
				}
			case "tool_use":
				if cb.ID == "" || string(cb.Input) != "{}" {
					t.Errorf("tool_use block start %s: want an id and input {}", e.Data)
				}
				b.ID, b.Name = cb.ID, cb.Name
				input = input[:0]
			default:
				t.Fatalf("event %d: block type %q", i, cb.Type)
			}
			m.Content = append(m.Content, b)
			open = index()
		case "content_block_delta":
			if got := index(); got != open || open < 0 {
				t.Fatalf("event %d: delta for block %d, open block is %d", i, got, open)
			}
			b := &m.Content[open]
			want := map[string]string{"text": "text_delta", "thinking": "thinking_delta", "tool_use": "input_json_delta"}[b.Type]
			if ev.Delta.Type != want {
				t.Fatalf("event %d: %s in a %s block", i, ev.Delta.Type, b.Type)
			}
			b.Text += ev.Delta.Text
			b.Thinking += ev.Delta.Thinking
			input = append(input, ev.Delta.PartialJSON...)
		case "content_block_stop":
			if got := index(); got != open || open < 0 {
				t.Fatalf("event %d: stop for block %d, open block is %d", i, got, open)
			}
			if b := &m.Content[open]; b.Type == "tool_use" {
				b.Input = jsontext.Value("{}")
				if len(input) > 0 {
					b.Input = jsontext.Value(bytes.Clone(input))
					if err := b.Input.Compact(); strictInput && (err != nil || b.Input.Kind() != '{') {
						t.Errorf("tool_use %s input %q is not a JSON object", b.ID, input)
					}
				}
			}
			open = -1
		case "message_delta":
			if open >= 0 || sawDelta || ev.Delta == nil || ev.Usage == nil || string(ev.Delta.StopSequence) != "null" {
				t.Fatalf("event %d: misplaced or incomplete message_delta (open block %d): %s", i, open, e.Data)
			}
			sawDelta = true
			m.StopReason = ev.Delta.StopReason
			m.Usage.OutputTokens = ev.Usage.OutputTokens
			if bytes.Contains(e.Data, []byte(`"input_tokens"`)) {
				m.Usage.InputTokens = ev.Usage.InputTokens
				m.Usage.CacheReadInputTokens = ev.Usage.CacheReadInputTokens
				m.Usage.CacheCreationInputTokens = ev.Usage.CacheCreationInputTokens
			}
		case "message_stop":
			if !sawDelta {
				t.Fatalf("event %d: message_stop without message_delta", i)
			}
			res.complete, ended = true, true
		case "error":
			if ev.Error == nil || ev.Error.Type == "" {
				t.Fatalf("event %d: error event without a type: %s", i, e.Data)
			}
			res.errType, ended = ev.Error.Type, true
		default:
			t.Fatalf("event %d: unexpected event %q", i, ev.Type)
		}
	}
	return res
}

// inboundStreams lists the OpenAI-dialect stream fixtures and the
// hand-written streams, by golden name.
func inboundStreams(t testing.TB) map[string][]byte {
	streams := map[string][]byte{}
	for _, f := range []string{
		"openai/chat-stream-usage.sse",
		"openai/chat-stream-tool-calls.sse",
		"openai/chat-stream-parallel-tool-calls.sse",
		"azure/chat-stream-content-filter.sse",
		"groq/chat-stream-tool-call.sse",
		"mistral/chat-stream-text.sse",
		"mistral/chat-stream-tool-call.sse",
	} {
		streams["fixture-"+strings.ReplaceAll(strings.TrimSuffix(f, ".sse"), "/", "-")] = readFixture(t, f)
	}
	ins, err := filepath.Glob("testdata/inbound/stream/*.in.sse")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no hand-written streams: %v", err)
	}
	for _, in := range ins {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		streams[strings.TrimSuffix(filepath.Base(in), ".in.sse")] = b
	}
	return streams
}

// translateInbound runs an OpenAI SSE body through a new InboundStream as
// the gateway would: Chunk per data event, Finish at [DONE] or at the end
// of the body.
func translateInbound(t testing.TB, body []byte) (*InboundStream, []byte) {
	t.Helper()
	s := NewInboundStream("claude-sonnet-4-5")
	var out []byte
	for _, ev := range readEvents(t, body) {
		if string(ev.data) == "[DONE]" {
			break
		}
		n := len(out)
		var err error
		if out, err = s.Chunk(out, ev.data); err != nil {
			t.Fatalf("Chunk(%s): %v", ev.data, err)
		}
		checkEvents(t, out[n:])
	}
	n := len(out)
	out = s.Finish(out)
	checkEvents(t, out[n:])
	if again := s.Finish(nil); len(again) != 0 {
		t.Errorf("second Finish appended %q", again)
	}
	return s, out
}

// checkEvents fails unless b is zero or more complete
// "event: X\ndata: {…}\n\n" events with compact JSON.
func checkEvents(t testing.TB, b []byte) {
	t.Helper()
	for len(b) > 0 {
		ev, rest, ok := bytes.Cut(b, []byte("\n\n"))
		name, data, ok2 := bytes.Cut(ev, []byte("\n"))
		if !ok || !ok2 || !bytes.HasPrefix(name, []byte("event: ")) || !bytes.HasPrefix(data, []byte("data: ")) {
			t.Fatalf("not a complete Anthropic SSE event: %q", b)
		}
		checkCompact(t, data[len("data: "):])
		b = rest
	}
}

// wholeFromChunks accumulates an OpenAI stream with the official OpenAI
// SDK into the chat.completion the upstream would have answered without
// streaming (reasoning_content, which the SDK does not know, is gathered
// from the raw chunks).
func wholeFromChunks(t testing.TB, body []byte) []byte {
	t.Helper()
	var acc oai.ChatCompletionAccumulator
	var reasoning strings.Builder
	id := ""
	for _, ev := range readEvents(t, body) {
		if string(ev.data) == "[DONE]" {
			break
		}
		var c oai.ChatCompletionChunk
		if err := c.UnmarshalJSON(ev.data); err != nil {
			t.Fatalf("OpenAI SDK cannot decode chunk %s: %v", ev.data, err)
		}
		if id == "" {
			id = c.ID
		}
		acc.AddChunk(c)
		var r struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					ReasoningContent string `json:"reasoning_content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(ev.data, &r); err != nil {
			t.Fatal(err)
		}
		for _, ch := range r.Choices {
			if ch.Index == 0 {
				reasoning.WriteString(ch.Delta.ReasoningContent)
			}
		}
	}
	type fn struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	type call struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function fn     `json:"function"`
	}
	var whole struct {
		ID      string `json:"id"`
		Choices []struct {
			Message struct {
				Content          string `json:"content"`
				ReasoningContent string `json:"reasoning_content"`
				ToolCalls        []call `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens        int64 `json:"prompt_tokens"`
			CompletionTokens    int64 `json:"completion_tokens"`
			PromptTokensDetails struct {
				CachedTokens int64 `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
			CompletionTokensDetails struct {
				ReasoningTokens int64 `json:"reasoning_tokens"`
			} `json:"completion_tokens_details"`
		} `json:"usage"`
	}
	whole.ID = id
	whole.Choices = make([]struct {
		Message struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			ToolCalls        []call `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	}, 1)
	if len(acc.Choices) > 0 {
		ch := acc.Choices[0]
		whole.Choices[0].Message.Content = ch.Message.Content
		whole.Choices[0].FinishReason = ch.FinishReason
		for _, tc := range ch.Message.ToolCalls {
			whole.Choices[0].Message.ToolCalls = append(whole.Choices[0].Message.ToolCalls, call{tc.ID, "function", fn{tc.Function.Name, tc.Function.Arguments}})
		}
	}
	whole.Choices[0].Message.ReasoningContent = reasoning.String()
	whole.Usage.PromptTokens = acc.Usage.PromptTokens
	whole.Usage.CompletionTokens = acc.Usage.CompletionTokens
	whole.Usage.PromptTokensDetails.CachedTokens = acc.Usage.PromptTokensDetails.CachedTokens
	whole.Usage.CompletionTokensDetails.ReasoningTokens = acc.Usage.CompletionTokensDetails.ReasoningTokens
	b, err := json.Marshal(&whole)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInboundStream translates every OpenAI-dialect stream to golden
// Anthropic SSE, checks the event discipline, and checks that the
// accumulated message equals what ToMessage makes of the same answer
// delivered whole.
func TestInboundStream(t *testing.T) {
	for name, body := range inboundStreams(t) {
		t.Run(name, func(t *testing.T) {
			s, out := translateInbound(t, body)
			golden(t, "inbound/stream/"+name+".want.sse", out)
			res := checkAnthropicStream(t, out, true)
			if strings.HasPrefix(name, "error-") {
				if res.complete || res.errType == "" {
					t.Errorf("error stream: complete %v, error type %q; want an error event and no message_stop", res.complete, res.errType)
				}
				return
			}
			if !res.complete {
				t.Fatalf("stream did not end with message_stop")
			}
			if strings.Contains(name, "no-index") {
				// The OpenAI SDK's accumulator merges calls without an
				// index, so it cannot give the whole answer here; the
				// golden file holds it.
				return
			}
			wholeOut, wantUsage, err := ToMessage(wholeFromChunks(t, body), "claude-sonnet-4-5")
			if err != nil {
				t.Fatalf("ToMessage(whole): %v", err)
			}
			want := decodeMessage(t, wholeOut)
			if diff := cmp.Diff(want, res.msg); diff != "" {
				t.Errorf("streamed message mismatch (-whole +streamed):\n%s", diff)
			}
			if diff := cmp.Diff(wantUsage, s.Usage()); diff != "" {
				t.Errorf("Usage() mismatch (-whole +streamed):\n%s", diff)
			}
		})
	}
}

func TestInboundStreamUsage(t *testing.T) {
	body, err := os.ReadFile("testdata/inbound/stream/reasoning-text-tools.in.sse")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := translateInbound(t, body)
	want := Usage{PromptTokens: 120, CompletionTokens: 40, CachedTokens: 100, ReasoningTokens: 12}
	if diff := cmp.Diff(want, s.Usage()); diff != "" {
		t.Errorf("Usage() mismatch (-want +got):\n%s", diff)
	}
}

// TestInboundStreamBadChunk checks that a failing chunk appends nothing
// and leaves the stream as it was.
func TestInboundStreamBadChunk(t *testing.T) {
	chunk := func(delta string) []byte {
		return []byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}`)
	}
	s := NewInboundStream("m")
	out, err := s.Chunk(nil, chunk(`{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err = s.Chunk(out, chunk(`{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{
		[]byte(`{"choices":[`),
		[]byte(`[1]`),
		[]byte(`{"id":"x"} {}`),
		// Arguments for call 0 after its block was closed, behind a
		// delta that would otherwise be translated.
		chunk(`{"content":"text","tool_calls":[{"index":0,"function":{"arguments":"}"}}]}`),
	} {
		n := len(out)
		out, err = s.Chunk(out, bad)
		if err == nil || len(out) != n {
			t.Errorf("Chunk(%s) = %q, %v; want nothing appended and an error", bad, out[n:], err)
		}
		out = out[:n]
	}
	// An empty fragment for a closed call is harmless.
	if out, err = s.Chunk(out, chunk(`{"tool_calls":[{"index":0,"function":{"arguments":""}}]}`)); err != nil {
		t.Errorf("empty late fragment: %v", err)
	}
	out, err = s.Chunk(out, chunk(`{"content":"done"}`))
	if err != nil {
		t.Fatal(err)
	}
	out = s.Finish(out)
	res := checkAnthropicStream(t, out, false)
	got := fmt.Sprint(res.msg.Content)
	want := fmt.Sprint([]accBlock{{Type: "tool_use", ID: "a", Name: "f", Input: jsontext.Value("{")}, {Type: "tool_use", ID: "b", Name: "g", Input: jsontext.Value("{}")}, {Type: "text", Text: "done"}})
	if got != want {
		t.Errorf("content = %s, want %s", got, want)
	}
	if res.msg.StopReason != "tool_use" {
		t.Errorf("stop_reason = %q, want tool_use", res.msg.StopReason)
	}
}

func TestInboundStreamEmpty(t *testing.T) {
	s := NewInboundStream("m")
	out, err := s.Chunk(nil, []byte(`{"choices":[],"id":"","prompt_filter_results":[]}`))
	if err != nil || len(out) != 0 {
		t.Fatalf("Azure prompt-filter chunk = %q, %v; want nothing", out, err)
	}
	out, err = s.Chunk(out, []byte("[DONE]"))
	if err != nil {
		t.Fatal(err)
	}
	res := checkAnthropicStream(t, out, true)
	if !res.complete || len(res.msg.Content) != 0 || res.msg.StopReason != "end_turn" {
		t.Errorf("empty stream = %+v, want a complete empty message", res)
	}
	if more, _ := s.Chunk(nil, []byte(`{"choices":[{"index":0,"delta":{"content":"late"}}]}`)); len(more) != 0 {
		t.Errorf("Chunk after Finish appended %q", more)
	}
}

func TestErrorType(t *testing.T) {
	for status, want := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
		403: "permission_error", 404: "not_found_error", 413: "request_too_large",
		422: "invalid_request_error", 429: "rate_limit_error", 500: "api_error",
		502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error",
		200: "api_error",
	} {
		if got := ErrorType(status); got != want {
			t.Errorf("ErrorType(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestErrorFromOpenAI(t *testing.T) {
	for _, tt := range []struct {
		fixture  string
		status   int
		wantType string
	}{
		{"openai/error-400-invalid-request.response.json", 400, "invalid_request_error"},
		{"openai/error-400-unsupported-parameter.response.json", 400, "invalid_request_error"},
		{"openai/error-401-invalid-api-key.response.json", 401, "authentication_error"},
		{"openai/error-404-model-not-found.response.json", 404, "not_found_error"},
		{"openai/error-429-rate-limit.response.json", 429, "rate_limit_error"},
		{"openai/error-429-insufficient-quota.response.json", 429, "rate_limit_error"},
		{"openai/error-500-server-error.response.json", 500, "api_error"},
		{"azure/error-400-content-filter.response.json", 400, "invalid_request_error"},
		{"groq/error-400-tool-use-failed.response.json", 400, "invalid_request_error"},
	} {
		body := readFixture(t, tt.fixture)
		status, typ, msg, ok := ErrorFromOpenAI(tt.status, body)
		e, _ := openai.ParseError(body)
		if !ok || status != tt.status || typ != tt.wantType || msg != e.Message || msg == "" {
			t.Errorf("ErrorFromOpenAI(%d, %s) = %d, %q, %q, %v; want %d, %q, the upstream message", tt.status, tt.fixture, status, typ, msg, ok, tt.status, tt.wantType)
		}
	}
	if status, typ, _, ok := ErrorFromOpenAI(502, []byte("<html>Bad gateway</html>")); ok || status != 502 || typ != "api_error" {
		t.Errorf("ErrorFromOpenAI(HTML) = %d, %q, ok %v; want 502 api_error, not ok", status, typ, ok)
	}
}

func TestAppendError(t *testing.T) {
	got := string(AppendError([]byte("x"), "rate_limit_error", "Slow \"down\"\n", "req_1"))
	want := `x{"type":"error","error":{"type":"rate_limit_error","message":"Slow \"down\"\n"},"request_id":"req_1"}`
	if got != want {
		t.Errorf("AppendError = %s, want %s", got, want)
	}
	if got, want := string(AppendError(nil, "api_error", "m", "")), `{"type":"error","error":{"type":"api_error","message":"m"},"request_id":null}`; got != want {
		t.Errorf("AppendError without request id = %s, want %s", got, want)
	}
	ev := AppendErrorEvent(nil, "overloaded_error", "Overloaded")
	if want := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"; string(ev) != want {
		t.Errorf("AppendErrorEvent = %q, want %q", ev, want)
	}
	// The same shape Anthropic streams, as the gateway's reader sees it.
	res := checkAnthropicStream(t, ev, true)
	if res.errType != "overloaded_error" {
		t.Errorf("error event type = %q", res.errType)
	}
}

// FuzzInboundStream feeds arbitrary chunk payloads, after a real stream
// prefix, to an InboundStream: it must never panic, must append nothing on
// error, and whatever it appends, with Finish, must keep the Anthropic
// event discipline.
func FuzzInboundStream(f *testing.F) {
	for _, body := range inboundStreams(f) {
		for _, ev := range readEvents(f, body) {
			f.Add(ev.data)
		}
	}
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]}}]}`))
	f.Add([]byte(`{"choices":[{"delta":{"tool_calls":[{"id":"\u00e9","function":{"name":"\ud83d\ude00"}}],"reasoning":"r"},"finish_reason":"length"}],"usage":{"prompt_tokens":1e3,"completion_tokens":-1}}`))
	f.Add([]byte(`{"error":{"code":"rate_limit_exceeded","message":null}}`))
	f.Add([]byte(`{"error":"boom"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewInboundStream("m\"\u2028")
		out, err := s.Chunk(nil, []byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		out, err = s.Chunk(out, []byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the same chunk twice: state must stay consistent
			n := len(out)
			out, err = s.Chunk(out, data)
			if err != nil && len(out) != n {
				t.Fatalf("Chunk(%q) appended %q with error %v", data, out[n:], err)
			}
		}
		out = s.Finish(out)
		checkEvents(t, out)
		res := checkAnthropicStream(t, out, false)
		if !res.complete && res.errType == "" {
			t.Fatalf("stream neither complete nor failed:\n%s", out)
		}
	})
}

// FuzzFromMessagesRequest checks that FromMessagesRequest never panics
// and that whatever it accepts comes out as compact JSON the OpenAI
// scanner accepts.
func FuzzFromMessagesRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "anthropic", "*.request.json"))
	ins, _ := filepath.Glob("testdata/inbound/request/*.in.json")
	for _, file := range append(files, ins...) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := FromMessagesRequest(body, "gpt-4o")
		if err != nil {
			return
		}
		v := jsontext.Value(bytes.Clone(out))
		if err := v.Compact(); err != nil || !bytes.Equal(v, out) {
			t.Fatalf("FromMessagesRequest(%s) = %s: not compact JSON (%v)", body, out, err)
		}
		if _, err := openai.ScanChat(out, allowTopK); err != nil {
			t.Fatalf("FromMessagesRequest(%s) = %s: openai.ScanChat: %v", body, out, err)
		}
	})
}

func BenchmarkInboundStream(b *testing.B) {
	var chunks [][]byte
	for _, ev := range readEvents(b, readFixture(b, "openai/chat-stream-parallel-tool-calls.sse")) {
		if string(ev.data) != "[DONE]" {
			chunks = append(chunks, ev.data)
		}
	}
	var size int64
	for _, c := range chunks {
		size += int64(len(c))
	}
	out := make([]byte, 0, 16<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		s := NewInboundStream("claude-sonnet-4-5")
		out = out[:0]
		for _, c := range chunks {
			var err error
			if out, err = s.Chunk(out, c); err != nil {
				b.Fatal(err)
			}
		}
		out = s.Finish(out)
	}
}

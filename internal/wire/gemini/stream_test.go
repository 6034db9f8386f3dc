package gemini

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	oai "github.com/openai/openai-go/v3"

	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// readPayloads parses an alt=sse body with the gateway's reader.
func readPayloads(t testing.TB, body []byte) [][]byte {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(body))
	var out [][]byte
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("sse: %v", err)
		}
		out = append(out, bytes.Clone(ev.Data))
	}
}

// arrayPayloads splits a stream sent without alt=sse (one JSON array)
// into its elements.
func arrayPayloads(t testing.TB, body []byte) [][]byte {
	t.Helper()
	var elems []jsontext.Value
	if err := json.Unmarshal(body, &elems); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(elems))
	for i, e := range elems {
		out[i] = e
	}
	return out
}

// streamCases are the recorded streams plus hand-written ones for shapes
// the fixtures lack.
func streamCases(t testing.TB) map[string][][]byte {
	return map[string][][]byte{
		"stream-text":          readPayloads(t, readFixture(t, "gemini/stream-text.sse")),
		"stream-function-call": readPayloads(t, readFixture(t, "gemini/stream-function-call.sse")),
		"stream-json-array":    arrayPayloads(t, readFixture(t, "gemini/stream-json-array.response.json")),
		"thinking-parallel-calls": {
			[]byte(`{"candidates": [{"content": {"parts": [{"text": "Two cities.","thought": true}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 20,"totalTokenCount": 25,"thoughtsTokenCount": 5},"responseId": "r1"}`),
			[]byte(`{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"city": "Paris"}}},{"functionCall": {"name": "get_weather","args": {"city":"Tokyo"}}}],"role": "model"},"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 20,"candidatesTokenCount": 10,"cachedContentTokenCount": 4,"totalTokenCount": 35,"thoughtsTokenCount": 5},"responseId": "r1"}`),
		},
		"max-tokens": {
			[]byte(`{"candidates": [{"content": {"parts": [{"text": "Once \u003cupon\u003e"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 3,"totalTokenCount": 3},"responseId": "r2"}`),
			[]byte(`{"candidates": [{"content": {"parts": [{"text": " a time"}],"role": "model"},"finishReason": "MAX_TOKENS"}],"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 4,"totalTokenCount": 7},"responseId": "r2"}`),
		},
		"safety": {
			[]byte(`{"candidates": [{"content": {"parts": [{"text": "Well"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 3,"totalTokenCount": 3},"responseId": "r3"}`),
			[]byte(`{"candidates": [{"content": {"role": "model"},"finishReason": "SAFETY","safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT","probability": "HIGH","blocked": true}]}],"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 1,"totalTokenCount": 4},"responseId": "r3"}`),
		},
		"prompt-blocked": {
			[]byte(`{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"responseId": "r4"}`),
		},
	}
}

// translate runs payloads through a new Stream and Finish, checking that
// each call appends only whole OpenAI events.
func translate(t testing.TB, payloads [][]byte, includeUsage bool) (*Stream, []byte) {
	t.Helper()
	s := NewStream("gpt-4o", includeUsage)
	var out []byte
	for _, p := range payloads {
		n := len(out)
		var err error
		if out, err = s.Event(out, p); err != nil {
			t.Fatalf("Event(%s): %v", p, err)
		}
		checkChunks(t, out[n:])
	}
	n := len(out)
	out = s.Finish(out)
	checkChunks(t, out[n:])
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

func TestStreamGolden(t *testing.T) {
	for name, payloads := range streamCases(t) {
		t.Run(name, func(t *testing.T) {
			s, out := translate(t, payloads, true)
			golden(t, "stream/"+name+".want.sse", out)
			if !s.Done() {
				t.Errorf("Done() = false after a finished stream")
			}
			// Without include_usage only the usage chunk goes.
			_, noUsage := translate(t, payloads, false)
			var want []byte
			for chunk := range bytes.SplitAfterSeq(out, []byte("\n\n")) {
				if !bytes.Contains(chunk, []byte(`"choices":[],"usage":`)) {
					want = append(want, chunk...)
				}
			}
			if !bytes.Equal(noUsage, want) {
				t.Errorf("stream without include_usage:\n%s\nwant:\n%s", noUsage, want)
			}
		})
	}
}

func TestStreamError(t *testing.T) {
	payloads := [][]byte{
		[]byte(`{"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"}}],"responseId": "r5"}`),
		[]byte(`{"error": {"code": 503,"message": "The model is overloaded. Please try again later.","status": "UNAVAILABLE"}}`),
		[]byte(`{"candidates": [{"content": {"parts": [{"text": "ignored"}],"role": "model"}}],"responseId": "r5"}`),
	}
	s, out := translate(t, payloads, true)
	golden(t, "stream/error-unavailable.want.sse", out)
	if !s.Failed() || s.Done() {
		t.Errorf("Failed() = %v, Done() = %v; want true, false", s.Failed(), s.Done())
	}
	if bytes.Contains(out, []byte("[DONE]")) || bytes.Contains(out, []byte("ignored")) {
		t.Errorf("failed stream went on:\n%s", out)
	}
	if _, err := NewStream("m", false).Event(nil, []byte(`[1`)); err == nil {
		t.Errorf("Event(invalid JSON) succeeded")
	}
}

func TestStreamUsage(t *testing.T) {
	tests := map[string]Usage{
		"stream-text":             {PromptTokens: 13, CompletionTokens: 8},
		"stream-function-call":    {PromptTokens: 52, CompletionTokens: 5},
		"stream-json-array":       {PromptTokens: 32, CompletionTokens: 54, ReasoningTokens: 42},
		"thinking-parallel-calls": {PromptTokens: 20, CompletionTokens: 15, CachedTokens: 4, ReasoningTokens: 5},
	}
	cases := streamCases(t)
	for name, want := range tests {
		s, _ := translate(t, cases[name], false)
		if diff := cmp.Diff(want, s.Usage()); diff != "" {
			t.Errorf("%s: Usage() mismatch (-want +got):\n%s", name, diff)
		}
	}
}

// collect merges a stream's payloads into the one response Gemini would
// have sent without streaming: parts concatenated, the last finishReason,
// usageMetadata and responseId.
func collect(t testing.TB, payloads [][]byte) []byte {
	t.Helper()
	type cand struct {
		Content struct {
			Parts []jsontext.Value `json:"parts"`
			Role  string           `json:"role"`
		} `json:"content"`
		FinishReason string `json:"finishReason,omitzero"`
	}
	type resp struct {
		Candidates     []cand         `json:"candidates,omitzero"`
		PromptFeedback jsontext.Value `json:"promptFeedback,omitzero"`
		UsageMetadata  jsontext.Value `json:"usageMetadata,omitzero"`
		ResponseID     string         `json:"responseId"`
	}
	var all resp
	for _, p := range payloads {
		var r resp
		if err := json.Unmarshal(p, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Candidates) > 0 {
			if len(all.Candidates) == 0 {
				all.Candidates = []cand{{}}
			}
			c := &all.Candidates[0]
			c.Content.Parts = append(c.Content.Parts, r.Candidates[0].Content.Parts...)
			if r.Candidates[0].FinishReason != "" {
				c.FinishReason = r.Candidates[0].FinishReason
			}
		}
		if len(r.PromptFeedback) > 0 {
			all.PromptFeedback = r.PromptFeedback
		}
		if len(r.UsageMetadata) > 0 {
			all.UsageMetadata = r.UsageMetadata
		}
		all.ResponseID = r.ResponseID
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStreamConsumable feeds the translated chunks to the official OpenAI
// Go SDK's accumulator and to the gateway's own chunk reader, and checks
// that they add up to what FromGemini makes of the same answer delivered
// whole.
func TestStreamConsumable(t *testing.T) {
	for name, payloads := range streamCases(t) {
		t.Run(name, func(t *testing.T) {
			s, out := translate(t, payloads, true)
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
			whole, wantUsage, err := FromGemini(collect(t, payloads), "gpt-4o")
			if err != nil {
				t.Fatalf("FromGemini: %v", err)
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
					cs = append(cs, call{tc.ID, tc.Function.Name, tc.Function.Arguments})
				}
				return cs
			}
			if diff := cmp.Diff(calls(wm.Message.ToolCalls), calls(got.Message.ToolCalls)); diff != "" {
				t.Errorf("tool calls mismatch (-whole +streamed):\n%s", diff)
			}
			if acc.Usage.PromptTokens != want.Usage.PromptTokens || acc.Usage.CompletionTokens != want.Usage.CompletionTokens ||
				acc.Usage.CompletionTokensDetails.ReasoningTokens != want.Usage.CompletionTokensDetails.ReasoningTokens {
				t.Errorf("SDK usage = %+v, want %+v", acc.Usage, want.Usage)
			}
			if usage.PromptTokens != wantUsage.PromptTokens || usage.CompletionTokens != wantUsage.CompletionTokens {
				t.Errorf("ScanChunk usage = %+v, want %+v", usage, wantUsage)
			}
			if diff := cmp.Diff(wantUsage, s.Usage()); diff != "" {
				t.Errorf("Usage() mismatch (-whole +streamed):\n%s", diff)
			}
		})
	}
}

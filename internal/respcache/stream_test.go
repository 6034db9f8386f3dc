package respcache

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

const fixtures = "../../../shared/fixtures/openai"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		b, err = os.ReadFile(filepath.Join("/work/shared/fixtures/openai", name))
	}
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	return b
}

// sseChunks parses an OpenAI chat SSE body: every event must be one
// "data: " line; all but the last must be JSON objects, the last [DONE].
func sseChunks(t *testing.T, sse []byte) []map[string]any {
	t.Helper()
	if !bytes.HasSuffix(sse, []byte("data: [DONE]\n\n")) {
		t.Fatalf("stream does not end with data: [DONE]: %q", sse[max(0, len(sse)-40):])
	}
	events := strings.Split(strings.TrimSuffix(string(sse), "\n\n"), "\n\n")
	var out []map[string]any
	for i, ev := range events {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("event %d is not a single data line: %q", i, ev)
		}
		if data == "[DONE]" {
			if i != len(events)-1 {
				t.Fatalf("[DONE] at event %d of %d", i, len(events))
			}
			break
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, data)
		}
		out = append(out, m)
	}
	return out
}

type accumulated struct {
	content, refusal string
	hasContent       bool
	role             string
	toolCalls        map[float64]map[string]string // index -> id, type, name, arguments
	finish           any
	usage            any
	usageChunks      int
	usageKeys        int // chunks with a "usage" member
}

// accumulate reads a stream the way a client does (tool calls by index).
func accumulate(t *testing.T, chunks []map[string]any) accumulated {
	t.Helper()
	a := accumulated{toolCalls: map[float64]map[string]string{}}
	for _, c := range chunks {
		if c["object"] != "chat.completion.chunk" {
			t.Errorf("object = %v", c["object"])
		}
		if u, ok := c["usage"]; ok {
			a.usageKeys++
			if u != nil {
				a.usage = u
				a.usageChunks++
			}
		}
		for _, ch := range c["choices"].([]any) {
			ch := ch.(map[string]any)
			if fr := ch["finish_reason"]; fr != nil {
				a.finish = fr
			}
			d := ch["delta"].(map[string]any)
			if r, ok := d["role"].(string); ok {
				a.role = r
			}
			if s, ok := d["content"].(string); ok {
				a.content += s
				a.hasContent = true
			}
			if s, ok := d["refusal"].(string); ok {
				a.refusal += s
			}
			tcs, _ := d["tool_calls"].([]any)
			for _, tc := range tcs {
				tc := tc.(map[string]any)
				idx := tc["index"].(float64)
				acc := a.toolCalls[idx]
				if acc == nil {
					acc = map[string]string{}
					a.toolCalls[idx] = acc
				}
				for _, k := range []string{"id", "type"} {
					if v, ok := tc[k].(string); ok {
						acc[k] += v
					}
				}
				if f, ok := tc["function"].(map[string]any); ok {
					if v, ok := f["name"].(string); ok {
						acc["name"] += v
					}
					if v, ok := f["arguments"].(string); ok {
						acc["arguments"] += v
					}
				}
			}
		}
	}
	return a
}

func unmarshalAny(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestChatStreamText(t *testing.T) {
	resp := readFixture(t, "chat-text.response.json")
	orig := unmarshalAny(t, resp)
	msg := orig["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)

	for _, includeUsage := range []bool{false, true} {
		sse, err := ChatStream(resp, includeUsage)
		if err != nil {
			t.Fatal(err)
		}
		chunks := sseChunks(t, sse)
		for _, c := range chunks {
			for _, k := range []string{"id", "created", "model", "system_fingerprint", "service_tier"} {
				if !cmp.Equal(c[k], orig[k]) {
					t.Errorf("chunk %s = %v, want %v", k, c[k], orig[k])
				}
			}
		}
		a := accumulate(t, chunks)
		if a.content != msg["content"] || a.role != "assistant" || a.finish != "stop" {
			t.Errorf("accumulated content %q role %q finish %v", a.content, a.role, a.finish)
		}
		if includeUsage {
			last := chunks[len(chunks)-1]
			if a.usageChunks != 1 || len(last["choices"].([]any)) != 0 || !cmp.Equal(last["usage"], orig["usage"]) {
				t.Errorf("usage chunk: %d usage chunks, last %v", a.usageChunks, last)
			}
			if a.usageKeys != len(chunks) {
				t.Errorf("%d of %d chunks carry usage (null or the usage)", a.usageKeys, len(chunks))
			}
		} else if a.usageKeys != 0 {
			t.Errorf("usage not asked for but %d chunks have a usage member", a.usageKeys)
		}
	}
}

// TestChatStreamMatchesRecorded compares the synthesized stream of a
// recorded completion with a recorded stream of the same prompt: the same
// text, usage and the same member sets per chunk kind (except OpenAI's
// obfuscation padding).
func TestChatStreamMatchesRecorded(t *testing.T) {
	resp := readFixture(t, "chat-text.response.json")
	rec := sseChunks(t, readFixture(t, "chat-stream-usage.sse"))
	sse, err := ChatStream(resp, true)
	if err != nil {
		t.Fatal(err)
	}
	got := sseChunks(t, sse)

	ra, ga := accumulate(t, rec), accumulate(t, got)
	if ra.content != ga.content || ra.role != ga.role || ra.finish != ga.finish || !cmp.Equal(ra.usage, ga.usage) {
		t.Errorf("recorded stream gives %q/%s/%v/%v, synthesized %q/%s/%v/%v",
			ra.content, ra.role, ra.finish, ra.usage, ga.content, ga.role, ga.finish, ga.usage)
	}
	if d := cmp.Diff(shapes(rec), shapes(got)); d != "" {
		t.Errorf("chunk shapes (-recorded +synthesized):\n%s", d)
	}
}

func TestChatStreamToolCalls(t *testing.T) {
	resp := readFixture(t, "chat-tools.response.json")
	orig := unmarshalAny(t, resp)
	sse, err := ChatStream(resp, true)
	if err != nil {
		t.Fatal(err)
	}
	got := sseChunks(t, sse)
	a := accumulate(t, got)
	tc := orig["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["tool_calls"].([]any)[0].(map[string]any)
	want := map[float64]map[string]string{0: {
		"id": tc["id"].(string), "type": "function",
		"name":      tc["function"].(map[string]any)["name"].(string),
		"arguments": tc["function"].(map[string]any)["arguments"].(string),
	}}
	if d := cmp.Diff(want, a.toolCalls); d != "" {
		t.Errorf("tool calls (-want +got):\n%s", d)
	}
	if a.hasContent || a.finish != "tool_calls" {
		t.Errorf("content %v finish %v", a.hasContent, a.finish)
	}

	// Shapes of the tool-call deltas match a recorded tool-call stream.
	rec := sseChunks(t, readFixture(t, "chat-stream-tool-calls.sse"))
	if d := cmp.Diff(toolDeltaShapes(rec), toolDeltaShapes(got)); d != "" {
		t.Errorf("tool call delta shapes (-recorded +synthesized):\n%s", d)
	}
}

func TestChatStreamParallelAndLong(t *testing.T) {
	long := strings.Repeat("héllo wörld — ünïcode 日本語 ", 20)
	args0 := `{"city":"` + strings.Repeat("Mexico City ", 10) + `"}`
	completion := `{
  "id": "chatcmpl-x", "object": "chat.completion", "created": 1759436804, "model": "gpt-4o-2024-08-06",
  "choices": [
    {"index": 0, "message": {"role": "assistant", "content": ` + string(quote(long)) + `,
      "reasoning_content": "thinking", "refusal": null,
      "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ` + string(quote(args0)) + `}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
      ]}, "logprobs": {"content": [{"token": "h", "logprob": -0.1}]}, "finish_reason": "tool_calls"},
    {"index": 1, "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."},
      "logprobs": null, "finish_reason": "stop"}
  ],
  "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
  "system_fingerprint": null
}`
	sse, err := ChatStream([]byte(completion), false)
	if err != nil {
		t.Fatal(err)
	}
	chunks := sseChunks(t, sse)
	byChoice := map[float64][]map[string]any{}
	for _, c := range chunks {
		if v, ok := c["system_fingerprint"]; !ok || v != nil {
			t.Errorf("system_fingerprint = %v, %v; want null", v, ok)
		}
		choices := c["choices"].([]any)
		if len(choices) != 1 {
			t.Fatalf("chunk with %d choices", len(choices))
		}
		ch := choices[0].(map[string]any)
		if d := ch["delta"].(map[string]any); d["content"] != nil {
			if n := len(d["content"].(string)); n > chunkBytes+3 {
				t.Errorf("content delta of %d bytes", n)
			}
		}
		i := ch["index"].(float64)
		byChoice[i] = append(byChoice[i], c)
	}
	a0, a1 := accumulate(t, byChoice[0]), accumulate(t, byChoice[1])
	if a0.content != long || a0.finish != "tool_calls" {
		t.Errorf("choice 0: content %q finish %v", a0.content, a0.finish)
	}
	want := map[float64]map[string]string{
		0: {"id": "call_a", "type": "function", "name": "get_weather", "arguments": args0},
		1: {"id": "call_b", "type": "function", "name": "get_time", "arguments": "{}"},
	}
	if d := cmp.Diff(want, a0.toolCalls); d != "" {
		t.Errorf("tool calls (-want +got):\n%s", d)
	}
	if a1.refusal != "I can't help with that." || a1.hasContent || a1.finish != "stop" {
		t.Errorf("choice 1: refusal %q content %v finish %v", a1.refusal, a1.hasContent, a1.finish)
	}
	if !bytes.Contains(sse, []byte(`"delta":{"reasoning_content":"thinking"}`)) {
		t.Error("reasoning_content not streamed")
	}
	if !bytes.Contains(sse, []byte(`"logprobs":{"content":[{"token":"h","logprob":-0.1}]},"finish_reason":"tool_calls"`)) {
		t.Error("logprobs not streamed")
	}
	if bytes.Contains(sse, []byte(`"usage"`)) {
		t.Error("usage present though not asked for")
	}
}

func TestChatStreamErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{"object":"chat.completion.chunk"}`, `{"object":"response"}`} {
		if _, err := ChatStream([]byte(in), true); err == nil {
			t.Errorf("ChatStream(%q) succeeded", in)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, s := range []string{"", "a", strings.Repeat("x", 32), strings.Repeat("x", 33), strings.Repeat("日", 40), "\xff\xfe"} {
		parts := split(s)
		if strings.Join(parts, "") != s {
			t.Errorf("split(%q) loses text: %q", s, parts)
		}
		for _, p := range parts {
			if len(p) > chunkBytes || p == "" {
				t.Errorf("split(%q): piece %q", s, p)
			}
		}
	}
}

// shapes describes each chunk of a text stream by its kind and the sorted
// members of the chunk, its choice and its delta.
func shapes(chunks []map[string]any) map[string][]string {
	out := map[string][]string{}
	for _, c := range chunks {
		delete(c, "obfuscation")
		kind := "usage"
		var desc []string
		desc = append(desc, "chunk:"+strings.Join(slices.Sorted(maps.Keys(c)), ","))
		if choices := c["choices"].([]any); len(choices) > 0 {
			ch := choices[0].(map[string]any)
			d := ch["delta"].(map[string]any)
			switch {
			case d["role"] != nil:
				kind = "role"
			case ch["finish_reason"] != nil:
				kind = "finish"
			default:
				kind = "content"
			}
			desc = append(desc, "choice:"+strings.Join(slices.Sorted(maps.Keys(ch)), ","),
				"delta:"+strings.Join(slices.Sorted(maps.Keys(d)), ","))
		}
		out[kind] = desc
	}
	return out
}

// toolDeltaShapes gives the member paths of the first and of a later
// delta of tool call 0.
func toolDeltaShapes(chunks []map[string]any) []string {
	var out []string
	for _, c := range chunks {
		for _, ch := range c["choices"].([]any) {
			tcs, _ := ch.(map[string]any)["delta"].(map[string]any)["tool_calls"].([]any)
			for _, tc := range tcs {
				b, _ := json.Marshal(tc)
				out = append(out, paths(b))
				if len(out) == 2 {
					return out
				}
			}
		}
	}
	return out
}

func paths(b []byte) string {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	var ps []string
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			break
		}
		if k, _ := dec.StackIndex(dec.StackDepth()); k == '{' && tok.Kind() != '{' && tok.Kind() != '}' {
			if p := string(dec.StackPointer()); !strings.HasSuffix(p, "/") && !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
	}
	slices.Sort(ps)
	return strings.Join(ps, " ")
}

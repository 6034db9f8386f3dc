package respcache

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// chunkBytes is the most bytes of content (or tool-call arguments) one
// synthesized chunk carries; splits fall on UTF-8 character boundaries.
const chunkBytes = 32

// chatCompletion is the part of an OpenAI chat.completion that ChatStream
// reads. Scalars that are copied to the chunks are kept as raw JSON so they
// are reproduced exactly.
type chatCompletion struct {
	ID                jsontext.Value     `json:"id"`
	Object            string             `json:"object"`
	Created           jsontext.Value     `json:"created"`
	Model             jsontext.Value     `json:"model"`
	ServiceTier       jsontext.Value     `json:"service_tier"`
	SystemFingerprint jsontext.Value     `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             jsontext.Value     `json:"usage"`
}

type completionChoice struct {
	Index        jsontext.Value `json:"index"`
	Message      message        `json:"message"`
	Logprobs     jsontext.Value `json:"logprobs"`
	FinishReason jsontext.Value `json:"finish_reason"`
}

type message struct {
	Role        string           `json:"role"`
	Content     *string          `json:"content"`
	Refusal     *string          `json:"refusal"`
	ToolCalls   []jsontext.Value `json:"tool_calls"`
	Annotations jsontext.Value   `json:"annotations"`
	// Other members (reasoning_content, reasoning, audio, function_call,
	// …) are sent in a delta of their own, as they are.
	Other jsontext.Value `json:",embed"`
}

type toolCallOpen struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type toolCallFragment struct {
	Index    int `json:"index"`
	Function struct {
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// chunk is one chat.completion.chunk, with the members in OpenAI's order.
type chunk struct {
	ID                jsontext.Value `json:"id,omitzero"`
	Object            string         `json:"object"`
	Created           jsontext.Value `json:"created,omitzero"`
	Model             jsontext.Value `json:"model,omitzero"`
	ServiceTier       jsontext.Value `json:"service_tier,omitzero"`
	SystemFingerprint jsontext.Value `json:"system_fingerprint,omitzero"`
	Choices           []chunkChoice  `json:"choices"`
	Usage             jsontext.Value `json:"usage,omitzero"`
}

type chunkChoice struct {
	Index        jsontext.Value `json:"index"`
	Delta        any            `json:"delta"`
	Logprobs     jsontext.Value `json:"logprobs"`
	FinishReason jsontext.Value `json:"finish_reason"`
}

type delta struct {
	Role        string           `json:"role,omitzero"`
	Content     jsontext.Value   `json:"content,omitzero"`
	ToolCalls   []jsontext.Value `json:"tool_calls,omitzero"`
	Refusal     jsontext.Value   `json:"refusal,omitzero"`
	Annotations jsontext.Value   `json:"annotations,omitzero"`
}

var (
	jsonNull  = jsontext.Value("null")
	jsonEmpty = jsontext.Value(`""`)
)

// ChatStream turns a cached non-streamed OpenAI chat.completion JSON into
// the SSE bytes of an equivalent chat.completion.chunk stream, shaped like
// a real OpenAI stream:
//
//   - per choice: a first chunk with the role (content "" for a text
//     answer, null otherwise, and refusal null); a chunk for each other
//     member of the message (reasoning_content, …) as it is; content
//     deltas of at most 32 bytes; refusal deltas; for each tool call a
//     chunk with its index, id, type, function name and empty arguments,
//     then argument fragments of at most 32 bytes; annotations if any; and
//     a final chunk with an empty delta, the choice's logprobs and its
//     finish_reason;
//   - when includeUsage, a last chunk with "choices":[] and the
//     completion's usage, and "usage":null on every other chunk (without
//     it, chunks have no usage member, as OpenAI sends them);
//   - then "data: [DONE]".
//
// id, created, model, service_tier and system_fingerprint are copied from
// the completion to every chunk. Choices are streamed one after another,
// not interleaved. The obfuscation padding of real streams is not added.
func ChatStream(completion []byte, includeUsage bool) ([]byte, error) {
	var c chatCompletion
	if err := json.Unmarshal(completion, &c); err != nil {
		return nil, fmt.Errorf("respcache: chat completion: %w", err)
	}
	if c.Object != "chat.completion" {
		return nil, fmt.Errorf("respcache: object %q is not a chat.completion", c.Object)
	}
	w := streamWriter{
		tmpl: chunk{
			ID:                compact(c.ID),
			Object:            "chat.completion.chunk",
			Created:           compact(c.Created),
			Model:             compact(c.Model),
			ServiceTier:       compact(c.ServiceTier),
			SystemFingerprint: compact(c.SystemFingerprint),
		},
	}
	if includeUsage {
		w.tmpl.Usage = jsonNull
	}
	for i := range c.Choices {
		if err := w.choice(&c.Choices[i], i); err != nil {
			return nil, err
		}
	}
	if includeUsage {
		usage := compact(c.Usage)
		if usage == nil {
			usage = jsonNull
		}
		ch := w.tmpl
		ch.Choices = []chunkChoice{}
		ch.Usage = usage
		w.write(&ch)
	}
	if w.err != nil {
		return nil, fmt.Errorf("respcache: chat stream: %w", w.err)
	}
	w.buf.WriteString("data: [DONE]\n\n")
	return w.buf.Bytes(), nil
}

type streamWriter struct {
	tmpl chunk
	buf  bytes.Buffer
	err  error
}

func (w *streamWriter) write(c *chunk) {
	if w.err != nil {
		return
	}
	b, err := json.Marshal(c)
	if err != nil {
		w.err = err
		return
	}
	w.buf.WriteString("data: ")
	w.buf.Write(b)
	w.buf.WriteString("\n\n")
}

// delta writes a chunk for choice index with delta d.
func (w *streamWriter) delta(index jsontext.Value, d any) {
	ch := w.tmpl
	ch.Choices = []chunkChoice{{Index: index, Delta: d, Logprobs: jsonNull, FinishReason: jsonNull}}
	w.write(&ch)
}

func (w *streamWriter) choice(c *completionChoice, i int) error {
	index := compact(c.Index)
	if index == nil {
		index = jsontext.Value(fmt.Sprint(i))
	}
	m := &c.Message
	role := m.Role
	if role == "" {
		role = "assistant"
	}
	first := delta{Role: role, Content: jsonNull, Refusal: jsonNull}
	if m.Content != nil {
		first.Content = jsonEmpty
	}
	w.delta(index, first)

	if len(m.Other) > 0 {
		var other map[string]jsontext.Value
		if err := json.Unmarshal(m.Other, &other); err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(other)) {
			v := other[name]
			if string(v) == "null" {
				continue
			}
			w.delta(index, map[string]jsontext.Value{name: compact(v)})
		}
	}
	if m.Content != nil {
		for _, s := range split(*m.Content) {
			w.delta(index, delta{Content: quote(s)})
		}
	}
	if m.Refusal != nil {
		for _, s := range split(*m.Refusal) {
			w.delta(index, delta{Refusal: quote(s)})
		}
	}
	for j, raw := range m.ToolCalls {
		if err := w.toolCall(index, j, raw); err != nil {
			return err
		}
	}
	if a := compact(m.Annotations); a != nil && string(a) != "null" && string(a) != "[]" {
		w.delta(index, delta{Annotations: a})
	}

	logprobs := compact(c.Logprobs)
	if logprobs == nil {
		logprobs = jsonNull
	}
	finish := compact(c.FinishReason)
	if finish == nil {
		finish = jsonNull
	}
	ch := w.tmpl
	ch.Choices = []chunkChoice{{Index: index, Delta: struct{}{}, Logprobs: logprobs, FinishReason: finish}}
	w.write(&ch)
	return w.err
}

func (w *streamWriter) toolCall(index jsontext.Value, j int, raw jsontext.Value) error {
	var tc chat.ToolCall
	if err := json.Unmarshal(raw, &tc); err != nil {
		return fmt.Errorf("tool call %d: %w", j, err)
	}
	if tc.Type != "" && tc.Type != "function" {
		// Another kind of tool call is sent whole, with its index.
		var members map[string]jsontext.Value
		if err := json.Unmarshal(raw, &members); err != nil {
			return fmt.Errorf("tool call %d: %w", j, err)
		}
		members["index"] = jsontext.Value(fmt.Sprint(j))
		for k, v := range members {
			members[k] = compact(v)
		}
		b, err := json.Marshal(members, json.Deterministic(true))
		if err != nil {
			return err
		}
		w.delta(index, delta{ToolCalls: []jsontext.Value{b}})
		return nil
	}
	typ := tc.Type
	if typ == "" {
		typ = "function"
	}
	// The opening delta carries the id, type, name and empty arguments, as
	// OpenAI's does; the arguments follow in fragments.
	open := toolCallOpen{Index: j, ID: tc.ID, Type: typ}
	open.Function.Name = tc.Function.Name
	b, err := json.Marshal(open)
	if err != nil {
		return err
	}
	w.delta(index, delta{ToolCalls: []jsontext.Value{b}})
	for _, s := range split(tc.Function.Arguments) {
		var f toolCallFragment
		f.Index, f.Function.Arguments = j, s
		frag, err := json.Marshal(f)
		if err != nil {
			return err
		}
		w.delta(index, delta{ToolCalls: []jsontext.Value{frag}})
	}
	return w.err
}

// split cuts s into pieces of at most chunkBytes bytes, on character
// boundaries (a piece is longer only for a single character that is).
func split(s string) []string {
	var out []string
	for len(s) > chunkBytes {
		i := chunkBytes
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		if i == 0 {
			_, i = utf8.DecodeRuneInString(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func quote(s string) jsontext.Value {
	b, err := jsontext.AppendQuote(nil, s)
	if err != nil { // invalid UTF-8 cannot come from a decoded string
		b, _ = jsontext.AppendQuote(nil, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return b
}

// compact returns v without insignificant whitespace (a copy), or nil for
// an absent value.
func compact(v jsontext.Value) jsontext.Value {
	if len(v) == 0 {
		return nil
	}
	v = bytes.Clone(v)
	if err := v.Compact(); err != nil {
		return nil
	}
	return v
}

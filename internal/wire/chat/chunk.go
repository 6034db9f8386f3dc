package chat

import (
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// ChunkWriter appends OpenAI chat.completion.chunk SSE events
// (https://platform.openai.com/docs/api-reference/chat-streaming) as the
// stream translators write them: compact JSON, members in the order OpenAI
// sends them, each event a complete "data: {…}\n\n". Every chunk of one
// stream has the id, object, created and model fixed by Start; the methods
// append to dst and return the extended buffer, allocating only when dst
// grows.
//
// JSON string arguments (jsonString, fragment, id, name) are JSON string
// tokens, quotes and escapes included, copied from the upstream event as
// they are; they are not checked.
//
// The zero ChunkWriter is not started: call Start before any other
// method (Started tells). A ChunkWriter is not safe for concurrent use.
type ChunkWriter struct {
	prefix []byte // `data: {"id":…,"object":…,"created":…,"model":…`
}

// Start fixes the chunk prefix: the id is "chatcmpl-" followed by
// idSuffix (unquoted, escaped as needed; empty gives "chatcmpl-"),
// created is in Unix seconds, and model is written as a JSON string. A
// second Start replaces the prefix, reusing its buffer.
func (w *ChunkWriter) Start(idSuffix []byte, model string, created int64) {
	p := append(w.prefix[:0], `data: {"id":"chatcmpl-`...)
	n := len(p)
	p, _ = jsontext.AppendQuote(p, idSuffix)
	p = append(p[:n], p[n+1:]...) // drop the opening quote AppendQuote wrote
	p = append(p, `,"object":"chat.completion.chunk","created":`...)
	p = strconv.AppendInt(p, created, 10)
	p = append(p, `,"model":`...)
	p, _ = jsontext.AppendQuote(p, model)
	w.prefix = p
}

// Started reports whether Start has been called.
func (w *ChunkWriter) Started() bool { return w.prefix != nil }

// Open appends a chunk up to its choice's delta, for a delta none of the
// other methods writes; the caller appends the delta object and ends the
// chunk with Close.
func (w *ChunkWriter) Open(dst []byte) []byte {
	dst = append(dst, w.prefix...)
	return append(dst, `,"choices":[{"index":0,"delta":`...)
}

// Close ends a chunk begun by Open with "logprobs":null and finish as the
// finish_reason, null when finish is empty. finish is written unescaped.
func (w *ChunkWriter) Close(dst []byte, finish string) []byte {
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, finish...)
		dst = append(dst, '"')
	}
	return append(dst, "}]}\n\n"...)
}

// Role appends the first chunk of an answer, whose delta is
// {"role":"assistant","content":""}.
func (w *ChunkWriter) Role(dst []byte) []byte {
	dst = w.Open(dst)
	dst = append(dst, `{"role":"assistant","content":""}`...)
	return w.Close(dst, "")
}

// Content appends a chunk whose delta is {"content":jsonString}.
func (w *ChunkWriter) Content(dst, jsonString []byte) []byte {
	return w.delta(dst, `{"content":`, jsonString)
}

// Reasoning appends a chunk whose delta is
// {"reasoning_content":jsonString}.
func (w *ChunkWriter) Reasoning(dst, jsonString []byte) []byte {
	return w.delta(dst, `{"reasoning_content":`, jsonString)
}

func (w *ChunkWriter) delta(dst []byte, open string, str []byte) []byte {
	dst = w.Open(dst)
	dst = append(dst, open...)
	dst = append(dst, str...)
	dst = append(dst, '}')
	return w.Close(dst, "")
}

// ToolCallStart appends the chunk that opens tool call index: its id and
// name (JSON strings; empty is written as "") and empty arguments, which
// ToolArguments chunks then extend.
func (w *ChunkWriter) ToolCallStart(dst []byte, index int, id, name []byte) []byte {
	dst = w.Open(dst)
	dst = append(dst, `{"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, id)
	dst = append(dst, `,"type":"function","function":{"name":`...)
	dst = appendString(dst, name)
	dst = append(dst, `,"arguments":""}}]}`...)
	return w.Close(dst, "")
}

// ToolArguments appends a chunk carrying fragment (a JSON string) as the
// next piece of tool call index's arguments.
func (w *ChunkWriter) ToolArguments(dst []byte, index int, fragment []byte) []byte {
	dst = w.Open(dst)
	dst = append(dst, `{"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"function":{"arguments":`...)
	dst = append(dst, fragment...)
	dst = append(dst, "}}]}"...)
	return w.Close(dst, "")
}

// Finish appends the chunk with an empty delta {} and finish_reason
// reason (null when empty; written unescaped).
func (w *ChunkWriter) Finish(dst []byte, reason string) []byte {
	dst = w.Open(dst)
	dst = append(dst, "{}"...)
	return w.Close(dst, reason)
}

// Usage appends the usage chunk OpenAI sends last when
// stream_options.include_usage is set: "choices":[] and u. total_tokens
// is PromptTokens+CompletionTokens (u.TotalTokens is ignored), and
// completion_tokens_details is written only when u has it.
func (w *ChunkWriter) Usage(dst []byte, u Usage) []byte {
	dst = append(dst, w.prefix...)
	dst = append(dst, `,"choices":[],"usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokens, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, u.CompletionTokens, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokens+u.CompletionTokens, 10)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.PromptTokensDetails.CachedTokens, 10)
	if d := u.CompletionTokensDetails; d != nil {
		dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
		dst = strconv.AppendInt(dst, d.ReasoningTokens, 10)
	}
	return append(dst, "}}}\n\n"...)
}

// Done appends the data: [DONE] sentinel that ends an OpenAI stream.
func (w *ChunkWriter) Done(dst []byte) []byte {
	return append(dst, "data: [DONE]\n\n"...)
}

// appendString appends a JSON string token, or "" when it is empty.
func appendString(dst, str []byte) []byte {
	if len(str) == 0 {
		return append(dst, `""`...)
	}
	return append(dst, str...)
}

package openai

import "errors"

// Usage is the token accounting of a response or of a stream's usage chunk.
// Absent or null counts are 0.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
	// CachedTokens is usage.prompt_tokens_details.cached_tokens; they are
	// included in PromptTokens.
	CachedTokens int64
	// ReasoningTokens is usage.completion_tokens_details.reasoning_tokens;
	// they are included in CompletionTokens.
	ReasoningTokens int64
}

// Chunk is what the gateway reads from one streamed chat.completion.chunk
// (the data of one SSE event; the "[DONE]" sentinel is not a chunk).
type Chunk struct {
	// Usage is the chunk's usage, valid when HasUsage.
	Usage Usage
	// HasUsage reports a non-null "usage" object.
	HasUsage bool
	// NoChoices reports "choices" present as an empty array: OpenAI's final
	// usage-only chunk, and also Azure's first prompt_filter_results chunk
	// (which has no usage).
	NoChoices bool
	// IsError reports a top-level "error" member: an upstream error event
	// sent mid-stream.
	IsError bool
	// FinishReason is the first choice's finish_reason, "" when absent or
	// null. The usual values are returned without allocating.
	FinishReason string
}

// ScanChunk reads one streamed chunk. It validates the whole chunk as a
// single JSON object (as strictly as jsontext: duplicate member names, in
// any object, are an error) and reads only "usage", "choices" (the
// emptiness and choices[0].finish_reason) and the presence of "error"; key
// order does not matter. Token counts must be integers or null. It does not
// allocate for well-formed chunks. Errors are prefixed "openai: scan
// chunk:" and give the byte offset of the problem.
func ScanChunk(data []byte) (Chunk, error) {
	w := walker{b: data}
	ok := w.walk(objChunk)
	w.release()
	if !ok {
		return Chunk{}, w.err("scan chunk")
	}
	return Chunk{
		Usage:        w.usage,
		HasUsage:     w.hasUsage,
		NoChoices:    w.noChoices,
		IsError:      w.isError,
		FinishReason: w.finish,
	}, nil
}

// finishReason returns the known finish reasons as constants, so reading
// them does not allocate.
func finishReason(b []byte) string {
	switch string(b) {
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	case "function_call":
		return "function_call"
	}
	return string(b)
}

// errTokenCount reports a token count that is a number but not an
// integer that fits in an int64.
var errTokenCount = errors.New("token count is not an integer")

// Response is what the gateway reads from a non-streaming Chat Completions
// or Embeddings response body.
type Response struct {
	// Usage is the body's usage, valid when HasUsage.
	Usage Usage
	// HasUsage reports a non-null "usage" object.
	HasUsage bool
	// Model is the top-level "model" string, "" when absent.
	Model string
}

// ScanResponse reads a non-streaming chat completion or embeddings body.
// It walks the whole body, so a truncated body, invalid JSON (including a
// duplicate member name in any object), trailing data or a top level that
// is not an object is an error (the gateway answers it with a 502); it
// reads only "usage" and "model". It allocates only the Model string.
// Errors are prefixed "openai: scan response:" and give the byte offset of
// the problem.
func ScanResponse(body []byte) (Response, error) {
	w := walker{b: body}
	ok := w.walk(objResponse)
	w.release()
	if !ok {
		return Response{}, w.err("scan response")
	}
	return Response{Usage: w.usage, HasUsage: w.hasUsage, Model: w.model}, nil
}

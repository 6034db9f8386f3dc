package openai

import (
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

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
// single JSON object and reads only "usage", "choices" (the emptiness and
// choices[0].finish_reason) and the presence of "error"; key order does not
// matter. Token counts must be integers or null. It does not allocate for
// well-formed chunks. Errors are prefixed "openai: scan chunk:".
func ScanChunk(data []byte) (c Chunk, err error) {
	d := getDecoder(data)
	defer putDecoder(d)
	if err := d.beginObject(); err != nil {
		return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
	}
	for {
		end, err := d.endObject()
		if err != nil {
			return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
		}
		if end {
			break
		}
		name, err := d.name()
		if err != nil {
			return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
		}
		switch string(name) {
		case "usage":
			c.HasUsage, err = scanUsage(d, &c.Usage)
		case "choices":
			err = scanChoices(d, &c)
		case "error":
			c.IsError = true
			err = d.dec.SkipValue()
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
		}
	}
	if err := d.finish(data); err != nil {
		return Chunk{}, fmt.Errorf("openai: scan chunk: %w", err)
	}
	return c, nil
}

// scanChoices reads the choices array: whether it is empty and the first
// choice's finish_reason.
func scanChoices(d *decoder, c *Chunk) error {
	if d.dec.PeekKind() != jsontext.KindBeginArray {
		return d.dec.SkipValue() // null, or something odd we do not need
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		switch d.dec.PeekKind() {
		case jsontext.KindEndArray:
			c.NoChoices = i == 0
			_, err := d.dec.ReadToken()
			return err
		case jsontext.KindBeginObject:
			if i == 0 {
				if err := scanChoice(d, c); err != nil {
					return err
				}
				continue
			}
		}
		if err := d.dec.SkipValue(); err != nil {
			return err
		}
	}
}

func scanChoice(d *decoder, c *Chunk) error {
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for {
		end, err := d.endObject()
		if err != nil || end {
			return err
		}
		name, err := d.name()
		if err != nil {
			return err
		}
		if string(name) == "finish_reason" && d.dec.PeekKind() == jsontext.KindString {
			v, err := d.dec.ReadValue()
			if err != nil {
				return err
			}
			c.FinishReason = finishReason(d.unquote(v))
			continue
		}
		if err := d.dec.SkipValue(); err != nil {
			return err
		}
	}
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

var errTokenCount = errors.New("token count is not an integer")

// scanUsage reads a usage object or null into u and reports whether it was
// an object.
func scanUsage(d *decoder, u *Usage) (bool, error) {
	switch d.dec.PeekKind() {
	case jsontext.KindNull:
		_, err := d.dec.ReadToken()
		return false, err
	case jsontext.KindBeginObject:
	default:
		return false, d.dec.SkipValue()
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return false, err
	}
	for {
		end, err := d.endObject()
		if err != nil || end {
			return true, err
		}
		name, err := d.name()
		if err != nil {
			return true, err
		}
		switch string(name) {
		case "prompt_tokens":
			err = readCount(d, &u.PromptTokens)
		case "completion_tokens":
			err = readCount(d, &u.CompletionTokens)
		case "total_tokens":
			err = readCount(d, &u.TotalTokens)
		case "prompt_tokens_details":
			err = readDetail(d, "cached_tokens", &u.CachedTokens)
		case "completion_tokens_details":
			err = readDetail(d, "reasoning_tokens", &u.ReasoningTokens)
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return true, err
		}
	}
}

// readDetail reads the member want of a details object (or null) into n.
func readDetail(d *decoder, want string, n *int64) error {
	if d.dec.PeekKind() != jsontext.KindBeginObject {
		return d.dec.SkipValue()
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for {
		end, err := d.endObject()
		if err != nil || end {
			return err
		}
		name, err := d.name()
		if err != nil {
			return err
		}
		if string(name) == want {
			err = readCount(d, n)
		} else {
			err = d.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

// readCount reads an integer token count; null leaves n unchanged.
func readCount(d *decoder, n *int64) error {
	switch d.dec.PeekKind() {
	case jsontext.KindNumber:
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		x, ok := int64Value(v)
		if !ok {
			return fmt.Errorf("%w: %s", errTokenCount, v)
		}
		*n = x
		return nil
	case jsontext.KindNull, jsontext.KindInvalid:
		_, err := d.dec.ReadToken()
		return err
	}
	return d.dec.SkipValue()
}

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
// It walks the whole body, so a truncated body, invalid JSON, trailing data
// or a top level that is not an object is an error (the gateway answers it
// with a 502); it reads only "usage" and "model". It allocates only the
// Model string. Errors are prefixed "openai: scan response:".
func ScanResponse(body []byte) (r Response, err error) {
	d := getDecoder(body)
	defer putDecoder(d)
	defer func() {
		if err != nil {
			r = Response{}
			err = fmt.Errorf("openai: scan response: %w", err)
		}
	}()
	if err := d.beginObject(); err != nil {
		return r, err
	}
	for {
		end, err := d.endObject()
		if err != nil {
			return r, err
		}
		if end {
			break
		}
		name, err := d.name()
		if err != nil {
			return r, err
		}
		switch {
		case string(name) == "usage":
			r.HasUsage, err = scanUsage(d, &r.Usage)
		case string(name) == "model" && d.dec.PeekKind() == jsontext.KindString:
			var v jsontext.Value
			if v, err = d.dec.ReadValue(); err == nil {
				r.Model = string(d.unquote(v))
			}
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return r, err
		}
	}
	return r, d.finish(body)
}

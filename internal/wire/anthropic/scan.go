package anthropic

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/wire/chat"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// Request is what the gateway reads from a Messages request body on the
// inbound /v1/messages endpoint, in one pass, for routing and pass-through.
type Request struct {
	Model  string
	Stream bool

	modelStart, modelEnd int
}

// ScanRequest validates that body is one JSON object with a non-empty string
// "model" and a "messages" array, and reads model and stream. Everything
// else is left to the provider (pass-through) or the translator.
func ScanRequest(body []byte) (Request, error) {
	var req Request
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	tok, err := dec.ReadToken()
	if err != nil {
		return req, syntaxError(dec, err)
	}
	if tok.Kind() != jsontext.KindBeginObject {
		return req, &openai.SyntaxError{Msg: "the request body must be a JSON object"}
	}
	haveMessages := false
	for dec.PeekKind() != jsontext.KindEndObject {
		name, err := dec.ReadToken()
		if err != nil {
			return req, syntaxError(dec, err)
		}
		switch name.String() {
		case "model":
			v, err := dec.ReadValue()
			if err != nil {
				return req, syntaxError(dec, err)
			}
			if v.Kind() != jsontext.KindString || len(v) <= 2 {
				return req, &openai.ParamError{Param: "model", Msg: "model: must be a non-empty string"}
			}
			req.modelEnd = int(dec.InputOffset())
			req.modelStart = req.modelEnd - len(v)
			req.Model = string(chat.Unquote(v))
		case "stream":
			v, err := dec.ReadValue()
			if err != nil {
				return req, syntaxError(dec, err)
			}
			switch v.Kind() {
			case jsontext.KindTrue:
				req.Stream = true
			case jsontext.KindFalse, jsontext.KindNull:
			default:
				return req, &openai.ParamError{Param: "stream", Msg: "stream: must be a boolean"}
			}
		case "messages":
			if dec.PeekKind() != jsontext.KindBeginArray {
				return req, &openai.ParamError{Param: "messages", Msg: "messages: must be an array"}
			}
			haveMessages = true
			if err := dec.SkipValue(); err != nil {
				return req, syntaxError(dec, err)
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return req, syntaxError(dec, err)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return req, syntaxError(dec, err)
	}
	if _, err := dec.ReadToken(); err == nil {
		return req, &openai.SyntaxError{Msg: "invalid JSON: data after the request object"}
	}
	if req.Model == "" {
		return req, &openai.ParamError{Param: "model", Msg: "model: Field required"}
	}
	if !haveMessages {
		return req, &openai.ParamError{Param: "messages", Msg: "messages: Field required"}
	}
	return req, nil
}

func syntaxError(dec *jsontext.Decoder, err error) error {
	return &openai.SyntaxError{Offset: dec.InputOffset(), Msg: fmt.Sprintf("invalid JSON at byte %d: %v; send the request body as one well-formed JSON object", dec.InputOffset(), err)}
}

// RewriteModel appends body to dst with the model value replaced.
func (r *Request) RewriteModel(dst, body []byte, model string) []byte {
	dst = append(dst, body[:r.modelStart]...)
	dst, _ = jsontext.AppendQuote(dst, model)
	return append(dst, body[r.modelEnd:]...)
}

// MessageUsage reads the usage of a non-streamed Message body, which it also
// checks is valid JSON (a cut or garbled answer is an error).
func MessageUsage(body []byte) (Usage, error) {
	var m struct {
		Type  string         `json:"type"`
		Usage anthropicUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return Usage{}, fmt.Errorf("anthropic: read message usage: %w", err)
	}
	if m.Type != "message" {
		return Usage{}, fmt.Errorf("anthropic: read message usage: type is %q, not message", m.Type)
	}
	return m.Usage.usage(), nil
}

// UsageTracker follows the usage of a Messages stream passed through as it
// is: message_start carries the input side, message_delta the cumulative
// output. It reads only those events.
type UsageTracker struct {
	u      anthropicUsage
	Done   bool // message_stop seen
	Failed bool // an error event seen
}

// Event updates the tracker from one SSE event.
func (t *UsageTracker) Event(name, data []byte) {
	switch string(name) {
	case "message_start":
		var ev struct {
			Message struct {
				Usage anthropicUsage `json:"usage"`
			} `json:"message"`
		}
		if json.Unmarshal(data, &ev) == nil {
			t.u = ev.Message.Usage
		}
	case "message_delta":
		var ev struct {
			Usage *anthropicUsage `json:"usage"`
		}
		if json.Unmarshal(data, &ev) == nil && ev.Usage != nil {
			// Output is cumulative; input fields appear only when they changed.
			t.u.OutputTokens = ev.Usage.OutputTokens
			if ev.Usage.InputTokens > 0 {
				t.u.InputTokens = ev.Usage.InputTokens
			}
			if ev.Usage.CacheReadInputTokens > 0 {
				t.u.CacheReadInputTokens = ev.Usage.CacheReadInputTokens
			}
			if ev.Usage.CacheCreationInputTokens > 0 {
				t.u.CacheCreationInputTokens = ev.Usage.CacheCreationInputTokens
			}
		}
	case "message_stop":
		t.Done = true
	case "error":
		t.Failed = true
	}
}

// Usage is the usage seen so far.
func (t *UsageTracker) Usage() Usage { return t.u.usage() }

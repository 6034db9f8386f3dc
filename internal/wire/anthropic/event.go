package anthropic

import (
	"bytes"
	"errors"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// event is what the Stream reads from one Anthropic SSE data payload.
// Fields named "raw" in their comment are JSON string tokens, quotes and
// escapes included, aliasing the data: they are copied into the OpenAI
// chunk as they are. The others are unquoted. All are valid only during
// one Event call.
type event struct {
	typ   []byte
	index int64

	deltaType   []byte
	text        []byte // raw
	thinking    []byte // raw
	partialJSON []byte // raw
	stopReason  []byte // nil when absent or null

	blockType     []byte
	blockID       []byte // raw
	blockName     []byte // raw
	blockText     []byte // raw
	blockThinking []byte // raw

	messageID []byte
	usage     anthropicUsage
	has       usageFields

	errType, errMessage []byte
}

// usageFields records which usage counts an event carried.
type usageFields uint8

const (
	hasInput usageFields = 1 << iota
	hasOutput
	hasCacheRead
	hasCacheCreation
)

var errNotObject = errors.New("data is not a JSON object")

// parse reads data into s.ev with the Stream's jsontext.Decoder, which
// parses a bytes.Buffer in place. Unknown members are skipped; members of
// an unexpected JSON kind are ignored.
func (s *Stream) parse(data []byte) error {
	s.ev = event{}
	s.bb = *bytes.NewBuffer(data)
	s.dec.Reset(&s.bb)
	if s.dec.PeekKind() != '{' {
		return errNotObject
	}
	if _, err := s.dec.ReadToken(); err != nil {
		return err
	}
	ev := &s.ev
	for {
		name, ok, err := chat.Member(&s.dec)
		if !ok || err != nil {
			return err
		}
		switch string(name) {
		case "type":
			ev.typ, err = chat.Str(&s.dec, data)
		case "index":
			ev.index, err = chat.Int(&s.dec)
		case "delta":
			err = s.parseDelta(data)
		case "content_block":
			err = s.parseBlock(data)
		case "message":
			err = s.parseMessage(data)
		case "usage":
			err = s.parseUsage()
		case "error":
			err = s.parseError(data)
		default:
			err = s.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

func (s *Stream) parseDelta(data []byte) error {
	ev := &s.ev
	return chat.Object(&s.dec, func(name []byte) (err error) {
		switch string(name) {
		case "type":
			ev.deltaType, err = chat.Str(&s.dec, data)
		case "text":
			ev.text, err = chat.Raw(&s.dec, data)
		case "thinking":
			ev.thinking, err = chat.Raw(&s.dec, data)
		case "partial_json":
			ev.partialJSON, err = chat.Raw(&s.dec, data)
		case "stop_reason":
			ev.stopReason, err = chat.Str(&s.dec, data)
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

func (s *Stream) parseBlock(data []byte) error {
	ev := &s.ev
	return chat.Object(&s.dec, func(name []byte) (err error) {
		switch string(name) {
		case "type":
			ev.blockType, err = chat.Str(&s.dec, data)
		case "id":
			ev.blockID, err = chat.Raw(&s.dec, data)
		case "name":
			ev.blockName, err = chat.Raw(&s.dec, data)
		case "text":
			ev.blockText, err = chat.Raw(&s.dec, data)
		case "thinking":
			ev.blockThinking, err = chat.Raw(&s.dec, data)
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

func (s *Stream) parseMessage(data []byte) error {
	return chat.Object(&s.dec, func(name []byte) (err error) {
		switch string(name) {
		case "id":
			s.ev.messageID, err = chat.Str(&s.dec, data)
		case "usage":
			err = s.parseUsage()
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

func (s *Stream) parseUsage() error {
	ev := &s.ev
	return chat.Object(&s.dec, func(name []byte) (err error) {
		var dst *int64
		var f usageFields
		switch string(name) {
		case "input_tokens":
			dst, f = &ev.usage.InputTokens, hasInput
		case "output_tokens":
			dst, f = &ev.usage.OutputTokens, hasOutput
		case "cache_read_input_tokens":
			dst, f = &ev.usage.CacheReadInputTokens, hasCacheRead
		case "cache_creation_input_tokens":
			dst, f = &ev.usage.CacheCreationInputTokens, hasCacheCreation
		}
		if dst == nil || s.dec.PeekKind() != '0' {
			return s.dec.SkipValue()
		}
		if *dst, err = chat.Int(&s.dec); err != nil {
			return err
		}
		ev.has |= f
		return nil
	})
}

func (s *Stream) parseError(data []byte) error {
	ev := &s.ev
	return chat.Object(&s.dec, func(name []byte) (err error) {
		switch string(name) {
		case "type":
			ev.errType, err = chat.Str(&s.dec, data)
		case "message":
			ev.errMessage, err = chat.Str(&s.dec, data)
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

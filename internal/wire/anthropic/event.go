package anthropic

import (
	"bytes"
	"errors"
	"math"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
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
		name, ok, err := s.member()
		if !ok || err != nil {
			return err
		}
		switch string(name) {
		case "type":
			ev.typ, err = s.str(data)
		case "index":
			ev.index, err = s.int()
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
	return s.object(func(name []byte) (err error) {
		switch string(name) {
		case "type":
			ev.deltaType, err = s.str(data)
		case "text":
			ev.text, err = s.raw(data)
		case "thinking":
			ev.thinking, err = s.raw(data)
		case "partial_json":
			ev.partialJSON, err = s.raw(data)
		case "stop_reason":
			ev.stopReason, err = s.str(data)
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

func (s *Stream) parseBlock(data []byte) error {
	ev := &s.ev
	return s.object(func(name []byte) (err error) {
		switch string(name) {
		case "type":
			ev.blockType, err = s.str(data)
		case "id":
			ev.blockID, err = s.raw(data)
		case "name":
			ev.blockName, err = s.raw(data)
		case "text":
			ev.blockText, err = s.raw(data)
		case "thinking":
			ev.blockThinking, err = s.raw(data)
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

func (s *Stream) parseMessage(data []byte) error {
	return s.object(func(name []byte) (err error) {
		switch string(name) {
		case "id":
			s.ev.messageID, err = s.str(data)
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
	return s.object(func(name []byte) (err error) {
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
		if *dst, err = s.int(); err != nil {
			return err
		}
		ev.has |= f
		return nil
	})
}

func (s *Stream) parseError(data []byte) error {
	ev := &s.ev
	return s.object(func(name []byte) (err error) {
		switch string(name) {
		case "type":
			ev.errType, err = s.str(data)
		case "message":
			ev.errMessage, err = s.str(data)
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

// object reads an object value member by member: fn is called with each
// member's name and must consume its value. A value of another kind is
// skipped.
func (s *Stream) object(fn func(name []byte) error) error {
	if ok, err := s.enter(); !ok {
		return err
	}
	for {
		name, ok, err := s.member()
		if !ok || err != nil {
			return err
		}
		if err := fn(name); err != nil {
			return err
		}
	}
}

// enter consumes the '{' of an object value and reports true, or skips a
// value of another kind and reports false.
func (s *Stream) enter() (bool, error) {
	if s.dec.PeekKind() != '{' {
		return false, s.dec.SkipValue()
	}
	_, err := s.dec.ReadToken()
	return err == nil, err
}

// member reads the next member name of the current object, or its closing
// '}' (ok false). The name is valid until the next read.
func (s *Stream) member() (name []byte, ok bool, err error) {
	if s.dec.PeekKind() == '}' {
		_, err := s.dec.ReadToken()
		return nil, false, err
	}
	v, err := s.dec.ReadValue()
	if err != nil {
		return nil, false, err
	}
	return unquote(v), true, nil
}

// raw reads a string value and returns its JSON token as a slice of data;
// any other kind is skipped and returns nil.
func (s *Stream) raw(data []byte) ([]byte, error) {
	if s.dec.PeekKind() != '"' {
		return nil, s.dec.SkipValue()
	}
	v, err := s.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	end := s.dec.InputOffset()
	return data[end-int64(len(v)) : end : end], nil
}

// str reads a string value unquoted (nil for any other kind).
func (s *Stream) str(data []byte) ([]byte, error) {
	v, err := s.raw(data)
	if v == nil {
		return nil, err
	}
	return unquote(v), nil
}

// int reads an integer-valued number; other kinds are skipped and read
// as 0.
func (s *Stream) int() (int64, error) {
	if s.dec.PeekKind() != '0' {
		return 0, s.dec.SkipValue()
	}
	v, err := s.dec.ReadValue()
	if err != nil {
		return 0, err
	}
	return parseInt(v)
}

var errNotInteger = errors.New("count or index is not an integer")

func parseInt(v []byte) (int64, error) {
	if len(v) > 0 && len(v) <= 18 {
		var n int64
		for _, c := range v {
			if c < '0' || c > '9' {
				goto slow
			}
			n = n*10 + int64(c-'0')
		}
		return n, nil
	}
slow:
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, errNotInteger
	}
	return int64(f), nil
}

// unquote returns the contents of a valid JSON string token, allocating
// only when it has escapes.
func unquote(v []byte) []byte {
	if len(v) < 2 {
		return nil
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	u, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return nil // unreachable for a token the decoder validated
	}
	return u
}

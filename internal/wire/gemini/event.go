package gemini

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// event is what the Stream reads from one alt=sse data payload, a
// GenerateContentResponse: the members of response (see response.go) and
// nothing else. Byte slices alias the data (or, for unquoted strings with
// escapes, a fresh copy) and are valid only during one Event call.
type event struct {
	responseID []byte // unquoted

	hasCandidate bool        // candidates has at least one element
	parts        []eventPart // the first candidate's; reused between events
	finishReason []byte      // the first candidate's, unquoted

	blocked bool // promptFeedback.blockReason is a non-empty string

	usage    usageMetadata
	hasUsage bool // usageMetadata is an object

	err *rpcStatus // the error member, decoded; nil when absent or null
}

// eventPart is one of the first candidate's content parts.
type eventPart struct {
	text    []byte // the text member as sent, quotes and escapes included; any JSON kind
	thought bool

	call bool   // functionCall is an object
	name []byte // functionCall.name, unquoted
	args []byte // functionCall.args as sent; nil when absent
}

// parse reads data into s.ev with the Stream's jsontext.Decoder, which
// parses a bytes.Buffer in place, so a text event allocates nothing.
//
// It accepts and rejects exactly what json.Unmarshal of data into a
// response accepts and rejects: data must be one JSON object (or null)
// with no duplicate names and valid UTF-8; unknown members are skipped;
// null reads as the zero value; a known member of another JSON kind, or a
// count that is not an int64, is an error. Names are matched exactly,
// after unquoting. Only the first candidate is kept, but all are checked.
func (s *Stream) parse(data []byte) error {
	s.ev = event{parts: s.ev.parts[:0]}
	s.data = data
	s.bb = *bytes.NewBuffer(data)
	s.dec.Reset(&s.bb)
	if err := s.object(s.parseResponse); err != nil {
		return err
	}
	// One value and nothing after it, as json.Unmarshal demands.
	switch _, err := s.dec.ReadToken(); err {
	case io.EOF:
		return nil
	case nil:
		return errors.New("unexpected data after the top-level value")
	default:
		return err
	}
}

// parseResponse reads one member of a GenerateContentResponse.
func (s *Stream) parseResponse(name []byte) (err error) {
	ev := &s.ev
	switch string(name) {
	case "candidates":
		return s.array(s.parseCandidate)
	case "promptFeedback":
		return s.object(func(name []byte) error {
			if string(name) != "blockReason" {
				return s.dec.SkipValue()
			}
			r, err := s.str()
			ev.blocked = len(r) > 0
			return err
		})
	case "usageMetadata":
		ev.hasUsage = s.dec.PeekKind() == '{'
		return s.object(s.parseUsage)
	case "responseId":
		ev.responseID, err = s.str()
	case "error":
		// An error event ends the stream: decode it the simple way.
		var v jsontext.Value
		if v, err = s.dec.ReadValue(); err == nil {
			err = json.Unmarshal(v, &ev.err)
		}
	default:
		err = s.dec.SkipValue()
	}
	return err
}

// parseCandidate reads candidates[i]; only the first is kept.
func (s *Stream) parseCandidate(i int) error {
	ev := &s.ev
	ev.hasCandidate = true
	first := i == 0
	return s.object(func(name []byte) (err error) {
		switch string(name) {
		case "content":
			return s.object(func(name []byte) error {
				if string(name) != "parts" {
					return s.dec.SkipValue()
				}
				if first {
					ev.parts = ev.parts[:0]
				}
				return s.array(func(int) error {
					if !first {
						var p eventPart
						return s.parsePart(&p)
					}
					ev.parts = append(ev.parts, eventPart{})
					return s.parsePart(&ev.parts[len(ev.parts)-1])
				})
			})
		case "finishReason":
			var r []byte
			if r, err = s.str(); first {
				ev.finishReason = r
			}
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

// parsePart reads one content part into p.
func (s *Stream) parsePart(p *eventPart) error {
	return s.object(func(name []byte) (err error) {
		switch string(name) {
		case "text":
			p.text, err = chat.Value(&s.dec, s.data)
		case "thought":
			p.thought, err = s.bool()
		case "functionCall":
			p.call, p.name, p.args = s.dec.PeekKind() == '{', nil, nil
			return s.object(func(name []byte) (err error) {
				switch string(name) {
				case "name":
					p.name, err = s.str()
				case "args":
					p.args, err = chat.Value(&s.dec, s.data)
				default:
					err = s.dec.SkipValue()
				}
				return err
			})
		default:
			err = s.dec.SkipValue()
		}
		return err
	})
}

// parseUsage reads one member of usageMetadata.
func (s *Stream) parseUsage(name []byte) (err error) {
	u := &s.ev.usage
	var dst *int64
	switch string(name) {
	case "promptTokenCount":
		dst = &u.PromptTokenCount
	case "candidatesTokenCount":
		dst = &u.CandidatesTokenCount
	case "cachedContentTokenCount":
		dst = &u.CachedContentTokenCount
	case "thoughtsTokenCount":
		dst = &u.ThoughtsTokenCount
	case "toolUsePromptTokenCount":
		dst = &u.ToolUsePromptTokenCount
	default:
		return s.dec.SkipValue()
	}
	*dst, err = s.int()
	return err
}

// object reads an object value member by member: fn is called with each
// member's name (valid until the next read) and must consume its value.
// null is an object without members; other kinds are an error.
func (s *Stream) object(fn func(name []byte) error) error {
	if ok, err := s.open('{'); !ok {
		return err
	}
	for s.dec.PeekKind() != '}' {
		v, err := s.dec.ReadValue()
		if err != nil {
			return err
		}
		if err := fn(chat.Unquote(v)); err != nil {
			return err
		}
	}
	_, err := s.dec.ReadToken()
	return err
}

// array reads an array value element by element: fn is called with each
// element's index and must consume it. null is an empty array; other kinds
// are an error.
func (s *Stream) array(fn func(i int) error) error {
	if ok, err := s.open('['); !ok {
		return err
	}
	for i := 0; s.dec.PeekKind() != ']'; i++ {
		if err := fn(i); err != nil {
			return err
		}
	}
	_, err := s.dec.ReadToken()
	return err
}

// open consumes the opening token of an object or array value of kind
// want ('{' or '[') and reports true; it consumes a null and reports false;
// any other value is an error.
func (s *Stream) open(want jsontext.Kind) (bool, error) {
	switch s.dec.PeekKind() {
	case want:
		_, err := s.dec.ReadToken()
		return err == nil, err
	case 'n':
		_, err := s.dec.ReadToken()
		return false, err
	}
	return false, s.kindError(want)
}

// str reads a string value unquoted; null reads as nil, and other kinds
// are an error.
func (s *Stream) str() ([]byte, error) {
	switch s.dec.PeekKind() {
	case '"':
		v, err := s.dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return chat.Unquote(v), nil
	case 'n':
		_, err := s.dec.ReadToken()
		return nil, err
	}
	return nil, s.kindError('"')
}

// bool reads a boolean value; null reads as false, and other kinds are an
// error.
func (s *Stream) bool() (bool, error) {
	switch s.dec.PeekKind() {
	case 't', 'f', 'n':
		t, err := s.dec.ReadToken()
		return t.Kind() == 't', err
	}
	return false, s.kindError('t')
}

// int reads a number that is an int64 (no fraction or exponent, in
// range); null reads as 0, and other values are an error.
func (s *Stream) int() (int64, error) {
	switch s.dec.PeekKind() {
	case '0':
		v, err := s.dec.ReadValue()
		if err != nil {
			return 0, err
		}
		n, ok := parseInt(v)
		if !ok {
			return 0, fmt.Errorf("%s: number %s is not an int64", s.dec.StackPointer(), v)
		}
		return n, nil
	case 'n':
		_, err := s.dec.ReadToken()
		return 0, err
	}
	return 0, s.kindError('0')
}

// kindError reports that the next value is not of kind want.
func (s *Stream) kindError(want jsontext.Kind) error {
	got := s.dec.PeekKind()
	if got == 0 { // a syntax error or the end of the data
		_, err := s.dec.ReadToken()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return fmt.Errorf("%s: got JSON %v, want %v", s.dec.StackPointer(), got, want)
}

// parseInt parses a valid JSON number as an int64, as json.Unmarshal
// does: only an optional minus sign and digits, within range.
func parseInt(v []byte) (int64, bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' || n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

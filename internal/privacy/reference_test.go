package privacy

import (
	"bytes"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// referenceText is Text as it was before the hand-written walker: the same
// extraction done with a jsontext.Decoder, kept as the oracle of the
// differential tests. Its text keys are its own copy, so that a change to
// the walker's list shows up as a difference.
//
// One change: refWalkValue passes AllowDuplicateNames to Decoder.Reset.
// Reset replaces the decoder's options, so the old code, which gave the
// option to NewDecoder only, lost it on the first use and stopped at the
// first duplicate member name, against its own comment. The walker allows
// duplicates, as intended; on JSON without them (all that
// jsontext.Value.IsValid accepts) both versions agree.
func referenceText(b []byte) []byte {
	var s refSink
	refCollect(b, &s)
	return s.out
}

var refTextKeys = map[string]bool{
	"content": true, "text": true, "system": true, "input": true, "prompt": true,
	"arguments": true, "partial_json": true, "thinking": true, "refusal": true,
}

type refSink struct {
	out []byte
}

func (s *refSink) add(raw []byte) error {
	var err error
	if s.out, err = jsontext.AppendUnquote(s.out, raw); err != nil {
		return err
	}
	s.out = append(s.out, '\n')
	return nil
}

func refCollect(b []byte, s *refSink) {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		refWalkValue(t, s)
		return
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if data, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = bytes.TrimSpace(data)
			if len(data) > 0 && data[0] == '{' {
				refWalkValue(data, s)
			}
		}
	}
}

func refWalkValue(v []byte, s *refSink) {
	d := refDecoders.Get().(*refDecoder)
	d.rd.Reset(v)
	d.dec.Reset(&d.rd, jsontext.AllowDuplicateNames(true))
	_ = refWalk(d.dec, s, false)
	d.rd.Reset(nil)
	d.dec.Reset(&d.rd)
	refDecoders.Put(d)
}

type refDecoder struct {
	rd  bytes.Reader
	dec *jsontext.Decoder
}

var refDecoders = sync.Pool{New: func() any {
	d := &refDecoder{}
	d.dec = jsontext.NewDecoder(&d.rd, jsontext.AllowDuplicateNames(true))
	return d
}}

func refWalk(dec *jsontext.Decoder, s *refSink, text bool) error {
	switch dec.PeekKind() {
	case '{':
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		var nameBuf [32]byte
		for dec.PeekKind() == '"' {
			raw, err := dec.ReadValue()
			if err != nil {
				return err
			}
			name, err := jsontext.AppendUnquote(nameBuf[:0], raw)
			if err != nil {
				return err
			}
			if err := refWalk(dec, s, refTextKeys[string(name)]); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return err
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		for k := dec.PeekKind(); k != ']' && k != 0; k = dec.PeekKind() {
			if err := refWalk(dec, s, text); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return err
	case '"':
		if !text {
			return dec.SkipValue()
		}
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		return s.add(v)
	default:
		return dec.SkipValue()
	}
}

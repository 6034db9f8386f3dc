// Package openai reads and rewrites OpenAI Chat Completions and Embeddings
// wire bodies for the gateway's same-dialect pass-through path.
//
// Nothing here decodes a whole body into Go values: the request scanners
// walk the body once with a pooled jsontext.Decoder, read only the fields
// the gateway needs (model, stream, max tokens, user), validate the
// top-level parameters against the OpenAI schema, and remember byte offsets
// so that Request.Rewrite can replace the model and force
// stream_options.include_usage while copying every other byte unchanged.
// The response scanners, ScanChunk and ScanResponse, which run on every
// streamed event, read usage with a hand-written byte walker (walk.go)
// that checks the body as strictly as the decoder. In the steady state the
// scanners allocate only the strings they return.
package openai

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// decoder is a pooled jsontext.Decoder reading straight from the body
// through a bytes.Buffer, which jsontext parses in place without copying.
type decoder struct {
	bb      bytes.Buffer
	dec     jsontext.Decoder
	scratch []byte // unquoted names that contain escapes
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder(body []byte) *decoder {
	d := decoderPool.Get().(*decoder)
	d.bb = *bytes.NewBuffer(body)
	d.dec.Reset(&d.bb)
	return d
}

func putDecoder(d *decoder) {
	// Drop the references to the body so the pool does not pin it.
	d.bb = bytes.Buffer{}
	d.dec.Reset(&d.bb)
	if cap(d.scratch) > 1<<10 {
		d.scratch = nil
	}
	decoderPool.Put(d)
}

// name reads an object member name and returns it unquoted. The result
// aliases the body or d.scratch and is valid until the next call.
func (d *decoder) name() ([]byte, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	return d.unquote(v), nil
}

// unquote returns the contents of the valid JSON string v without
// allocating when it has no escapes.
func (d *decoder) unquote(v jsontext.Value) []byte {
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	var err error
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v)
	if err != nil {
		return nil // unreachable for a value the decoder has validated
	}
	return d.scratch
}

// endObject reports whether the next token ends the current object and, if
// so, consumes it. On a syntax error it returns the error.
func (d *decoder) endObject() (bool, error) {
	switch d.dec.PeekKind() {
	case jsontext.KindEndObject:
		_, err := d.dec.ReadToken()
		return true, err
	case jsontext.KindInvalid:
		_, err := d.dec.ReadToken()
		return false, err
	}
	return false, nil
}

// beginObject consumes the '{' that must come next.
func (d *decoder) beginObject() error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != jsontext.KindBeginObject {
		return fmt.Errorf("expected an object, got %s", kindName(tok.Kind()))
	}
	return nil
}

// finish checks that nothing but whitespace follows the top-level value.
func (d *decoder) finish(body []byte) error {
	off := d.dec.InputOffset()
	for _, c := range body[off:] {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return &jsontext.SyntacticError{ByteOffset: off, Err: errTrailingData}
		}
	}
	return nil
}

var errTrailingData = errors.New("unexpected data after the top-level value")

// int64Value parses a JSON number that must be integer-valued. ok is false
// when it has a fraction or does not fit in an int64.
func int64Value(v []byte) (n int64, ok bool) {
	neg := false
	s := v
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return slowInt(v)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return slowInt(v)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// kindName names a JSON kind for error messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case jsontext.KindNull:
		return "null"
	case jsontext.KindTrue, jsontext.KindFalse:
		return "boolean"
	case jsontext.KindString:
		return "string"
	case jsontext.KindNumber:
		return "number"
	case jsontext.KindBeginObject:
		return "object"
	case jsontext.KindBeginArray:
		return "array"
	}
	return "invalid JSON"
}

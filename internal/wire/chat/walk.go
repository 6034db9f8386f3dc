package chat

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// The stream translators read each event with a jsontext.Decoder that
// parses the event's bytes (data) in place, through a bytes.Buffer. The
// functions below walk such a decoder. Byte slices they return alias data
// or the decoder's buffer, except unquoted strings with escapes, and are
// valid only until the next read.

// Object reads an object value member by member: fn is called with each
// member's name and must consume its value. A value of another kind is
// skipped.
func Object(dec *jsontext.Decoder, fn func(name []byte) error) error {
	if ok, err := Enter(dec); !ok {
		return err
	}
	return Members(dec, fn)
}

// Members calls fn for each member of the object whose '{' was read, with
// the decoder before the member's value, and consumes the '}'.
func Members(dec *jsontext.Decoder, fn func(name []byte) error) error {
	for {
		name, ok, err := Member(dec)
		if !ok || err != nil {
			return err
		}
		if err := fn(name); err != nil {
			return err
		}
	}
}

// Enter consumes the '{' of an object value and reports true, or skips a
// value of another kind and reports false.
func Enter(dec *jsontext.Decoder) (bool, error) {
	if dec.PeekKind() != '{' {
		return false, dec.SkipValue()
	}
	_, err := dec.ReadToken()
	return err == nil, err
}

// Member reads the next member name of the current object, unquoted, or
// its closing '}' (ok false). The name is valid until the next read.
func Member(dec *jsontext.Decoder) (name []byte, ok bool, err error) {
	if dec.PeekKind() == '}' {
		_, err := dec.ReadToken()
		return nil, false, err
	}
	v, err := dec.ReadValue()
	if err != nil {
		return nil, false, err
	}
	return Unquote(v), true, nil
}

// Raw reads a string value and returns its JSON token, quotes and escapes
// included, as a slice of data; any other kind is skipped and returns nil.
func Raw(dec *jsontext.Decoder, data []byte) ([]byte, error) {
	if dec.PeekKind() != '"' {
		return nil, dec.SkipValue()
	}
	return Value(dec, data)
}

// Value reads a value of any kind and returns its JSON text as a slice of
// data.
func Value(dec *jsontext.Decoder, data []byte) ([]byte, error) {
	v, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	end := dec.InputOffset()
	return data[end-int64(len(v)) : end : end], nil
}

// Str reads a string value unquoted (nil for any other kind, which is
// skipped).
func Str(dec *jsontext.Decoder, data []byte) ([]byte, error) {
	v, err := Raw(dec, data)
	if v == nil {
		return nil, err
	}
	return Unquote(v), nil
}

// ErrNotInteger is the error of Int and IntExact for a number that is not
// an integer in the range of int64.
var ErrNotInteger = errors.New("count or index is not an integer")

// Int reads an integer-valued number with ParseInt; other kinds are
// skipped and read as 0.
func Int(dec *jsontext.Decoder) (int64, error) {
	return readInt(dec, ParseInt)
}

// IntExact is Int with ParseIntExact.
func IntExact(dec *jsontext.Decoder) (int64, error) {
	return readInt(dec, ParseIntExact)
}

func readInt(dec *jsontext.Decoder, parse func([]byte) (int64, error)) (int64, error) {
	if dec.PeekKind() != '0' {
		return 0, dec.SkipValue()
	}
	v, err := dec.ReadValue()
	if err != nil {
		return 0, err
	}
	return parse(v)
}

// ParseInt parses a valid JSON number that has an integer value. Up to 18
// digits without sign are read exactly; any other number is read as a
// float64, so that an integer of 19 digits may be rounded, and one that
// rounds to 2^63 or more is ErrNotInteger. A number with a fraction is
// ErrNotInteger.
func ParseInt(v []byte) (int64, error) {
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
	return parseFloatInt(v)
}

// ParseIntExact is ParseInt, except that every integer written without
// fraction or exponent in the range of int64 is read exactly.
func ParseIntExact(v []byte) (int64, error) {
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return n, nil
	}
	return parseFloatInt(v)
}

func parseFloatInt(v []byte) (int64, error) {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, ErrNotInteger
	}
	return int64(f), nil
}

// Unquote returns the contents of a valid JSON string token, allocating
// only when it has escapes.
func Unquote(v []byte) []byte {
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

// Elements splits the JSON array v into its elements, each copied verbatim;
// anything after the array is an error.
func Elements(v []byte) ([]jsontext.Value, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if tok.Kind() != '[' {
		return nil, errors.New("not a JSON array")
	}
	var out []jsontext.Value
	for dec.PeekKind() != ']' {
		e, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		out = append(out, e.Clone())
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errors.New("data after the array")
	}
	return out, nil
}

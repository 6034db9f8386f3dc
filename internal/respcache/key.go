package respcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// ignoredMembers are the top-level request members that cannot change the
// answer: how it is delivered (stream, stream_options), who asked and how it
// is tracked or billed (user, metadata, store, service_tier,
// safety_identifier), and provider prompt-cache routing (prompt_cache_key).
// Everything else, including members this package does not know, is part of
// the key. "n" is kept: it changes the number of choices.
var ignoredMembers = map[string]bool{
	"stream":            true,
	"stream_options":    true,
	"user":              true,
	"metadata":          true,
	"store":             true,
	"service_tier":      true,
	"safety_identifier": true,
	"prompt_cache_key":  true,
}

// keyVersion is hashed first, so that a change of the canonical form can
// never make an old key match a new request.
const keyVersion = "switchboard/respcache/key/v1"

// Key is the cache key of a request: the hex SHA-256 over the resolved model
// name (the configured model that serves it), the endpoint, and a canonical
// form of the JSON request body.
//
// The canonical form drops the top-level members that cannot change the
// answer ("stream", "stream_options", "user", "metadata", "store",
// "service_tier", "safety_identifier", "prompt_cache_key"); every other
// member, known or not, is kept (the body's own "model" too, since the
// response may echo it). Object members are sorted by name at every depth,
// insignificant whitespace is removed, strings are re-escaped canonically,
// and numbers are normalised: an integer literal is kept as written
// (exactly, however large), any other number that parses as a float64 is
// written as that float64 (so 1.0, 1e0 and 1 are the same, and 0.50 is
// 0.5), and one that overflows is kept as written.
//
// Key returns an error for invalid JSON, including invalid UTF-8, duplicate
// object member names and trailing data after the value.
func Key(model, endpoint string, body []byte) (string, error) {
	c := canonPool.Get().(*canonicalizer)
	defer canonPool.Put(c)
	if err := c.run(body); err != nil {
		return "", fmt.Errorf("respcache: request body: %w", err)
	}

	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write([]byte(keyVersion))
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(model)))])
	h.Write([]byte(model))
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(endpoint)))])
	h.Write([]byte(endpoint))
	h.Write(c.buf)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])), nil
}

// canonical returns the canonical form of body that Key hashes (for tests).
func canonical(body []byte) ([]byte, error) {
	var c canonicalizer
	if err := c.run(body); err != nil {
		return nil, err
	}
	return c.buf, nil
}

var canonPool = sync.Pool{New: func() any { return new(canonicalizer) }}

// span is one object member written to canonicalizer.buf: the member
// starts at start, its quoted name ends at name and the member at end.
type span struct{ start, name, end int }

type canonicalizer struct {
	rd    bytes.Reader
	dec   *jsontext.Decoder
	buf   []byte // canonical output
	tmp   []byte // scratch for reordering members
	spans []span // stack of the members of the objects being written
}

func (c *canonicalizer) run(body []byte) error {
	c.rd.Reset(body)
	if c.dec == nil {
		c.dec = jsontext.NewDecoder(&c.rd)
	} else {
		c.dec.Reset(&c.rd)
	}
	c.buf, c.tmp, c.spans = c.buf[:0], c.tmp[:0], c.spans[:0]
	if err := c.value(true); err != nil {
		return err
	}
	if _, err := c.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return errors.New("invalid JSON: data after the top-level value")
		}
		return err
	}
	return nil
}

func (c *canonicalizer) value(top bool) error {
	switch c.dec.PeekKind() {
	case '{':
		return c.object(top)
	case '[':
		if _, err := c.dec.ReadToken(); err != nil {
			return err
		}
		c.buf = append(c.buf, '[')
		for i := 0; c.dec.PeekKind() != ']'; i++ {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			if err := c.value(false); err != nil {
				return err
			}
		}
		if _, err := c.dec.ReadToken(); err != nil {
			return err
		}
		c.buf = append(c.buf, ']')
		return nil
	}
	raw, err := c.dec.ReadValue()
	if err != nil {
		return err
	}
	switch raw.Kind() {
	case '"':
		c.buf, err = appendString(c.buf, raw)
		return err
	case '0':
		c.buf = appendNumber(c.buf, raw)
	default: // true, false, null
		c.buf = append(c.buf, raw...)
	}
	return nil
}

func (c *canonicalizer) object(top bool) error {
	if _, err := c.dec.ReadToken(); err != nil {
		return err
	}
	c.buf = append(c.buf, '{')
	start, base := len(c.buf), len(c.spans)
	for c.dec.PeekKind() != '}' {
		raw, err := c.dec.ReadValue() // the name; an error if it is not a string
		if err != nil {
			return err
		}
		if top && ignoredMembers[string(raw[1:len(raw)-1])] {
			if err := c.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		// Names without escapes are matched above; one spelled with
		// escapes is unquoted first.
		if top && bytes.IndexByte(raw, '\\') >= 0 {
			name, err := jsontext.AppendUnquote(nil, raw)
			if err != nil {
				return err
			}
			if ignoredMembers[string(name)] {
				if err := c.dec.SkipValue(); err != nil {
					return err
				}
				continue
			}
		}
		s := span{start: len(c.buf)}
		if c.buf, err = appendString(c.buf, raw); err != nil {
			return err
		}
		s.name = len(c.buf)
		c.buf = append(c.buf, ':')
		if err := c.value(false); err != nil {
			return err
		}
		s.end = len(c.buf)
		c.spans = append(c.spans, s)
	}
	if _, err := c.dec.ReadToken(); err != nil {
		return err
	}

	// The members were written one after another without commas; write
	// them back sorted by their canonical quoted name, which orders equal
	// names together and is the same for any spelling of a name.
	members := c.spans[base:]
	if len(members) > 0 {
		buf := c.buf
		slices.SortFunc(members, func(a, b span) int {
			return bytes.Compare(buf[a.start:a.name], buf[b.start:b.name])
		})
		c.tmp = append(c.tmp[:0], c.buf[start:]...)
		c.buf = c.buf[:start]
		for i, m := range members {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			c.buf = append(c.buf, c.tmp[m.start-start:m.end-start]...)
		}
	}
	c.spans = c.spans[:base]
	c.buf = append(c.buf, '}')
	return nil
}

// appendString appends the canonical quoted form of the JSON string raw.
// A string without escapes is already canonical: it cannot hold a quote,
// a backslash or a control character, the only characters jsontext quotes
// escape (its UTF-8 was validated by the decoder).
func appendString(dst []byte, raw jsontext.Value) ([]byte, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(dst, raw...), nil
	}
	s, err := jsontext.AppendUnquote(nil, raw)
	if err != nil {
		return dst, err
	}
	return jsontext.AppendQuote(dst, s)
}

// appendNumber appends the canonical form of the JSON number raw.
func appendNumber(dst, raw []byte) []byte {
	if !bytes.ContainsAny(raw, ".eE") {
		// An integer literal is canonical as written (JSON forbids
		// leading zeros), and kept exact: seeds and token ids may exceed
		// float64 precision.
		if string(raw) == "-0" {
			return append(dst, '0')
		}
		return append(dst, raw...)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil { // out of range
		return append(dst, raw...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

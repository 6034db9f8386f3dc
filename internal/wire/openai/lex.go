package openai

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/internal/jsonlex"
)

// The lexical pieces of the walker (walk.go): whitespace, numbers, strings
// checked as strictly as jsontext checks them, and the unquoting and
// comparing of strings with escapes.

// nextUnquoted returns the bytes that the first character or escape of the
// contents s of a valid JSON string stands for, and the rest of s. The
// bytes may be in buf.
func nextUnquoted(s []byte, buf *[utf8.UTFMax]byte) (unit, rest []byte) {
	if s[0] != '\\' {
		return s[:1], s[1:]
	}
	var r rune
	n := 2
	switch s[1] {
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		r, _ = jsonlex.Hex4(s[2:])
		n = 6
		if utf16.IsSurrogate(r) { // paired: jsonlex.String checked
			r2, _ := jsonlex.Hex4(s[8:])
			r, n = utf16.DecodeRune(r, r2), 12
		}
	default: // '"', '\\', '/'
		r = rune(s[1])
	}
	return buf[:utf8.EncodeRune(buf[:], r)], s[n:]
}

// nameEqual reports whether the contents x and y of two valid JSON strings
// stand for the same text; either may have escapes.
func nameEqual(x, y []byte) bool {
	var xbuf, ybuf [utf8.UTFMax]byte
	var xu, yu []byte
	for {
		if len(xu) == 0 && len(x) > 0 {
			xu, x = nextUnquoted(x, &xbuf)
		}
		if len(yu) == 0 && len(y) > 0 {
			yu, y = nextUnquoted(y, &ybuf)
		}
		switch {
		case len(xu) == 0 || len(yu) == 0:
			return len(xu) == len(yu)
		case xu[0] != yu[0]:
			return false
		}
		xu, yu = xu[1:], yu[1:]
	}
}

// unquoteTo unquotes the contents raw of a valid JSON string into buf and
// returns it, or false if it does not fit.
func unquoteTo(buf []byte, raw []byte) ([]byte, bool) {
	var ubuf [utf8.UTFMax]byte
	n := 0
	for len(raw) > 0 {
		var u []byte
		u, raw = nextUnquoted(raw, &ubuf)
		if n+len(u) > len(buf) {
			return nil, false
		}
		n += copy(buf[n:], u)
	}
	return buf[:n], true
}

// unquoteString unquotes the contents raw of a valid JSON string, which is
// at least as long as what it stands for, with a single allocation.
func unquoteString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var sb strings.Builder
	sb.Grow(len(raw))
	var ubuf [utf8.UTFMax]byte
	for len(raw) > 0 {
		var u []byte
		u, raw = nextUnquoted(raw, &ubuf)
		sb.Write(u)
	}
	return sb.String()
}

// escapedFinishReason is finishReason for the contents raw of a string with
// escapes, such as "st\u006fp".
func escapedFinishReason(raw []byte) string {
	var buf [32]byte
	if s, ok := unquoteTo(buf[:], raw); ok {
		return finishReason(s)
	}
	return unquoteString(raw)
}

// fingerprint condenses an unquoted name into its length and first and
// last four bytes, so that seen can tell most different names apart
// without comparing them.
func fingerprint(name []byte) uint64 {
	var head, tail [4]byte
	if n := len(name); n >= 4 {
		head, tail = [4]byte(name), [4]byte(name[n-4:])
	} else {
		copy(head[:], name)
	}
	return fingerprintOf(head, tail, len(name))
}

func fingerprintOf(head, tail [4]byte, n int) uint64 {
	return (uint64(binary.LittleEndian.Uint32(head[:]))<<32 | uint64(binary.LittleEndian.Uint32(tail[:]))) ^ uint64(n)
}

// escapedFingerprint is the fingerprint of the unquoted form of the
// contents raw of a valid JSON string with escapes.
func escapedFingerprint(raw []byte) uint64 {
	var head, tail, ubuf [4]byte
	n := 0
	for len(raw) > 0 {
		var u []byte
		u, raw = nextUnquoted(raw, &ubuf)
		for _, c := range u {
			if n < 4 {
				head[n] = c
			}
			tail = [4]byte{tail[1], tail[2], tail[3], c}
			n++
		}
	}
	if n < 4 {
		tail = [4]byte{}
	}
	return fingerprintOf(head, tail, n)
}

package openai

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The lexical pieces of the walker (walk.go): whitespace, numbers, strings
// checked as strictly as jsontext checks them, and the unquoting and
// comparing of strings with escapes.

// skipSpace returns the offset of the first byte at or after b[i] that is
// not JSON whitespace (which is only these four).
func skipSpace(b []byte, i int) int {
	const space = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\r'
	for i < len(b) && b[i] <= ' ' && space>>b[i]&1 != 0 {
		i++
	}
	return i
}

// number consumes the number at b[i:]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// On an error it returns the complement of the offset of the bad byte.
func number(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return ^i
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return ^i
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return ^i
		}
		i = skipDigits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return ^i
		}
		i = skipDigits(b, i+1)
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// scanString consumes the string at b[i:], checking it as jsontext does:
// valid UTF-8, no control characters, only the escapes of RFC 8259, and \u
// surrogates only in valid pairs. It returns the offset after the closing
// quote, or the complement of the offset of the bad byte; verbatim reports
// that the string has no escapes, so that its unquoted form is its bytes
// between the quotes.
func scanString(b []byte, i int) (end int, verbatim bool) {
	verbatim = true
	i++ // '"'
	for {
		if i = skipPlain(b, i); i >= len(b) {
			return ^i, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, verbatim
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				return ^i, false
			}
			verbatim = false
			i += n
		case c < utf8.RuneSelf: // a control character
			return ^i, false
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return ^i, false
			}
			i += n
		}
	}
}

// skipPlain returns the offset of the first byte at or after b[i] that a
// string does not hold as it is: '"', '\\', a control character or
// non-ASCII; len(b) if there is none.
func skipPlain(b []byte, i int) int {
	// Eight bytes at a time: the high bit of a byte's lane in special is
	// set if it needs a look, by x or by the subtraction that borrows from
	// it. The subtractions also set lanes of bytes from 0x80 up, which x
	// sets anyway, and lanes after the first byte that borrows; none
	// before it, so the lowest set lane is the first byte to look at.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		special := (x | (x - ones*' ') | (x ^ ones*'"' - ones) | (x ^ ones*'\\' - ones)) & highs
		if special != 0 {
			return i + bits.TrailingZeros64(special)/8
		}
		i += 8
	}
	for i < len(b) && plainASCII[b[i]] {
		i++
	}
	return i
}

// plainASCII is the bytes a string holds as they are: ASCII but for
// control characters, '"' and '\\'.
var plainASCII = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escapeLen is the length of the valid escape sequence that begins b, or 0.
// A \u surrogate half must be followed by the other half, as jsontext
// requires when it validates UTF-8.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		r1, ok := hex4(b[2:])
		if !ok {
			return 0
		}
		if !utf16.IsSurrogate(r1) {
			return 6
		}
		if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
			return 0
		}
		r2, ok := hex4(b[8:])
		if !ok || utf16.DecodeRune(r1, r2) == utf8.RuneError {
			return 0
		}
		return 12
	}
	return 0
}

// hex4 parses the four hex digits that begin b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

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
		r, _ = hex4(s[2:])
		n = 6
		if utf16.IsSurrogate(r) { // paired: scanString checked
			r2, _ := hex4(s[8:])
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

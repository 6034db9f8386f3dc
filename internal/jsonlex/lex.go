// Package jsonlex is the lexical layer of the gateway's hand-written JSON
// walkers (internal/privacy, internal/wire/openai): whitespace, numbers and
// strings, checked as strictly as encoding/json/jsontext checks them, at a
// fraction of a Decoder's cost per token. Offsets go in and come out; an
// error is the complement (^i, always negative) of the offset of the bad
// byte, so a caller can both test for it (< 0) and say where it is.
package jsonlex

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// SkipSpace returns the offset of the first byte at or after b[i] that is
// not JSON whitespace (which is only these four).
func SkipSpace(b []byte, i int) int {
	const space = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\r'
	for i < len(b) && b[i] <= ' ' && space>>b[i]&1 != 0 {
		i++
	}
	return i
}

// Number consumes the number at b[i:]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// On an error it returns the complement of the offset of the bad byte.
func Number(b []byte, i int) int {
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

// String consumes the string at b[i:], checking it as jsontext does:
// valid UTF-8, no control characters, only the escapes of RFC 8259, and \u
// surrogates only in valid pairs. It returns the offset after the closing
// quote, or the complement of the offset of the bad byte; verbatim reports
// that the string has no escapes, so that its unquoted form is its bytes
// between the quotes.
func String(b []byte, i int) (end int, verbatim bool) {
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
		r1, ok := Hex4(b[2:])
		if !ok {
			return 0
		}
		if !utf16.IsSurrogate(r1) {
			return 6
		}
		if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
			return 0
		}
		r2, ok := Hex4(b[8:])
		if !ok || utf16.DecodeRune(r1, r2) == utf8.RuneError {
			return 0
		}
		return 12
	}
	return 0
}

// Hex4 parses the four hex digits that begin b.
func Hex4(b []byte) (rune, bool) {
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

package privacy

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// maxDepth is how deeply objects and arrays may nest: jsontext's decoder
// stops with an error on opening the 10001st level, and so does the walker.
const maxDepth = 10000

// walkValue walks one JSON value and gives s the strings under text keys
// (see isTextKey), including the strings of arrays under them, at any
// depth; objects met on the way (such as content parts) are walked for
// their own text members.
//
// It is a hand-written byte walker rather than a jsontext.Decoder, which
// cost more per token than the hashing it fed (~5% of the gateway's CPU).
// It checks the input as strictly as the decoder did: RFC 8259 grammar,
// whitespace, numbers and literals, strings with valid UTF-8, no control
// characters, valid escapes and surrogate pairs, and at most maxDepth
// levels of nesting. Like the decoder-based walker it replaced, it stops
// at the first error, keeping the text gathered before it: a text string
// counts once it is complete and valid, whatever follows it. So it gives
// the same text on every input, valid or not, but for one difference:
// member names may repeat, as the old walker meant them to. It gave
// AllowDuplicateNames to NewDecoder, but the Decoder.Reset before each use
// dropped the option, so it stopped at the first repeated name in an
// object. The differential tests and FuzzText check all this against that
// walker, with the option kept.
func walkValue(v []byte, s *sink) {
	w := walker{b: v, s: s}
	w.value(skipSpace(v, 0), false)
}

// walker is the state of walkValue. Its methods take the offset in b of
// what they walk, which follows any whitespace, and return the offset
// after it, or -1 on the first error, where the walk ends. The offset is
// passed rather than kept in the walker so that it stays in a register.
type walker struct {
	b     []byte // the value
	depth int    // objects and arrays open
	s     *sink
}

// value walks the value at b[i:]; text says whether its strings are text.
func (w *walker) value(i int, text bool) int {
	b := w.b
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '{':
		return w.object(i)
	case '[':
		return w.array(i, text)
	case '"':
		end, verbatim := scanString(b, i)
		if end >= 0 && text {
			w.s.add(b[i:end], verbatim)
		}
		return end
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		return number(b, i)
	}
}

func (w *walker) object(i int) int {
	if w.depth == maxDepth {
		return -1
	}
	w.depth++
	b := w.b
	i = skipSpace(b, i+1) // '{'
	if i < len(b) && b[i] == '}' {
		w.depth--
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, verbatim := scanString(b, i)
		if end < 0 {
			return -1
		}
		var text bool
		if verbatim {
			text = isTextKey(b[i+1 : end-1])
		} else {
			text = escapedTextKey(b[i:end])
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = w.value(skipSpace(b, i+1), text); i < 0 {
			return -1
		}
		if i = skipSpace(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			w.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// escapedTextKey is isTextKey for a valid quoted name with escapes, such
// as "con\u0074ent". It is apart from object so that the buffer is only
// on the stack of the rare names that need it.
func escapedTextKey(raw []byte) bool {
	var buf [32]byte
	name, err := jsontext.AppendUnquote(buf[:0], raw)
	return err == nil && isTextKey(name)
}

func (w *walker) array(i int, text bool) int {
	if w.depth == maxDepth {
		return -1
	}
	w.depth++
	b := w.b
	i = skipSpace(b, i+1) // '['
	if i < len(b) && b[i] == ']' {
		w.depth--
		return i + 1
	}
	for {
		if i = w.value(i, text); i < 0 {
			return -1
		}
		if i = skipSpace(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			w.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// skipSpace returns the offset of the first byte at or after b[i] that is
// not JSON whitespace (which is only these four).
func skipSpace(b []byte, i int) int {
	const space = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\r'
	for i < len(b) && b[i] <= ' ' && space>>b[i]&1 != 0 {
		i++
	}
	return i
}

// literal consumes lit (true, false or null) at b[i:]. What follows it is
// checked by the caller, as for numbers: "nullx" fails on the x.
func literal(b []byte, i int, lit string) int {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return -1
	}
	return i + len(lit)
}

// number consumes the number at b[i:]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = skipDigits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
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
// quote, or -1; verbatim reports that the string has no escapes, so that
// its unquoted form is its bytes between the quotes.
func scanString(b []byte, i int) (end int, verbatim bool) {
	verbatim = true
	i++ // '"'
	for {
		if i = skipPlain(b, i); i >= len(b) {
			return -1, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, verbatim
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				return -1, false
			}
			verbatim = false
			i += n
		case c < utf8.RuneSelf: // a control character
			return -1, false
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return -1, false
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

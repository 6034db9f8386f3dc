package privacy

import (
	"bytes"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/jsonlex"
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
	w.value(jsonlex.SkipSpace(v, 0), false)
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
		end, verbatim := jsonlex.String(b, i)
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
		return jsonlex.Number(b, i)
	}
}

func (w *walker) object(i int) int {
	if w.depth == maxDepth {
		return -1
	}
	w.depth++
	b := w.b
	i = jsonlex.SkipSpace(b, i+1) // '{'
	if i < len(b) && b[i] == '}' {
		w.depth--
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, verbatim := jsonlex.String(b, i)
		if end < 0 {
			return -1
		}
		var text bool
		if verbatim {
			text = isTextKey(b[i+1 : end-1])
		} else {
			text = escapedTextKey(b[i:end])
		}
		i = jsonlex.SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = w.value(jsonlex.SkipSpace(b, i+1), text); i < 0 {
			return -1
		}
		if i = jsonlex.SkipSpace(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = jsonlex.SkipSpace(b, i+1)
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
	i = jsonlex.SkipSpace(b, i+1) // '['
	if i < len(b) && b[i] == ']' {
		w.depth--
		return i + 1
	}
	for {
		if i = w.value(i, text); i < 0 {
			return -1
		}
		if i = jsonlex.SkipSpace(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = jsonlex.SkipSpace(b, i+1)
		case ']':
			w.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// literal consumes lit (true, false or null) at b[i:]. What follows it is
// checked by the caller, as for numbers: "nullx" fails on the x.
func literal(b []byte, i int, lit string) int {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return -1
	}
	return i + len(lit)
}

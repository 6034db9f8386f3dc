package pii

import (
	"strings"
	"unicode/utf8"
)

// streamMargin is extra look-ahead held back beyond the longest match, for
// the boundary checks detectors make after a match.
const streamMargin = 16

// streamContext is how many already-emitted bytes a Stream keeps so that
// detectors can check what precedes a match.
const streamContext = 8

// Stream redacts text that arrives in pieces. The concatenation of
// everything Push and Flush return equals what Text returns for the whole
// text (for custom rules: as long as their matches are no longer than
// MaxMatch). A Stream is not safe for concurrent use.
type Stream struct {
	r    *Redactor
	buf  string // original text: context bytes, then not yet emitted text
	pos  int    // index in buf of the first byte not yet emitted
	hold int    // bytes to hold back
	acc  accum
}

// NewStream starts a streaming redaction. On a nil Redactor the stream
// passes text through unchanged.
func (r *Redactor) NewStream() *Stream {
	s := &Stream{r: r}
	if r != nil {
		s.hold = r.maxMatch + streamMargin
	}
	return s
}

// Push adds a piece and returns the text that is safe to emit now. It holds
// back at most about the longest possible match (plus a small margin) of
// not yet emitted text.
func (s *Stream) Push(piece string) string {
	if s == nil || s.r == nil {
		return piece
	}
	s.buf += piece
	limit := len(s.buf) - s.hold
	if limit <= s.pos {
		return ""
	}
	limit = s.cut(limit)
	if limit <= s.pos {
		return ""
	}
	var b strings.Builder
	s.pos = s.scan(&b, limit, false)
	// Drop emitted text, keeping a little context.
	if keep := s.pos - streamContext; keep > 0 && keep > len(s.buf)/2 {
		s.buf = strings.Clone(s.buf[keep:])
		s.pos -= keep
	}
	return b.String()
}

// Flush returns the rest of the text. The stream must not be used after.
func (s *Stream) Flush() string {
	if s == nil || s.r == nil {
		return ""
	}
	var b strings.Builder
	s.scan(&b, len(s.buf), true)
	s.buf, s.pos = "", 0
	return b.String()
}

// Findings reports the matches in the text emitted so far (all of it after
// Flush).
func (s *Stream) Findings() []Finding {
	if s == nil || s.r == nil {
		return nil
	}
	return s.acc.findings(s.r)
}

// pending is the number of bytes received but not yet emitted.
func (s *Stream) pending() int { return len(s.buf) - s.pos }

// cut moves limit back to a position where splitting is safe: a rune
// boundary, and with custom regexps preferably just after an ASCII
// non-word byte so that \b and similar assertions see the same context as
// in the whole text.
func (s *Stream) cut(limit int) int {
	lo := max(s.pos, limit-utf8.UTFMax)
	if s.r.custom {
		for p := limit; p > s.pos && p > limit-DefaultMaxMatch; p-- {
			if c := s.buf[p-1]; c < utf8.RuneSelf && !isAlnum(c) && c != '_' {
				return p
			}
		}
	}
	for p := limit; p > lo; p-- {
		if utf8.RuneStart(s.buf[p]) {
			return p
		}
	}
	return lo
}

// scan emits text from s.pos: matches starting before limit (all of them
// when final) are replaced, and text up to limit (or past it, to the end of
// a match) is written. It returns the new position.
func (s *Stream) scan(b *strings.Builder, limit int, final bool) int {
	r := s.r
	var sc scanner
	sc.init(r, s.buf)
	i, last := s.pos, s.pos
	for {
		ri, start, end, ok := sc.next(i)
		if !ok || (!final && start >= limit) {
			break
		}
		s.acc.add(len(r.rules), ri)
		if ru := &r.rules[ri]; ru.action != ActionLog {
			b.WriteString(s.buf[last:start])
			b.WriteString(ru.placeholder)
			last = end
		}
		i = end
	}
	i = max(i, limit)
	b.WriteString(s.buf[last:i])
	return i
}

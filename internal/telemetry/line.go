package telemetry

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// LineWriter writes log lines in log/slog's text format (what
// slog.NewTextHandler writes for a record without groups) without going
// through slog. It is for the one line every request writes: building an
// slog.Record with a dozen attributes and formatting it through the handler
// cost ~7% of the gateway's CPU. The output is byte for byte the text
// handler's (TestLineMatchesSlog).
type LineWriter struct {
	w    io.Writer
	pool sync.Pool
}

// NewLineWriter returns a LineWriter writing each line with one Write to w,
// which must be safe for concurrent use (slog's handlers lock around it;
// BufferedWriter does).
func NewLineWriter(w io.Writer) *LineWriter {
	return &LineWriter{w: w, pool: sync.Pool{New: func() any { return &Line{b: make([]byte, 0, 512)} }}}
}

// Line is one line being built. Its methods append key=value pairs; keys
// must be plain identifiers (they are not quoted).
type Line struct {
	b []byte
}

// Begin starts a line at level INFO with message msg, stamped t.
func (lw *LineWriter) Begin(t time.Time, msg string) *Line {
	l := lw.pool.Get().(*Line)
	l.b = append(l.b[:0], "time="...)
	l.b = appendRFC3339Millis(l.b, t)
	l.b = append(l.b, " level=INFO msg="...)
	l.b = appendText(l.b, msg)
	return l
}

// End writes the line and recycles it.
func (lw *LineWriter) End(l *Line) error {
	l.b = append(l.b, '\n')
	_, err := lw.w.Write(l.b)
	if cap(l.b) <= 16<<10 {
		lw.pool.Put(l)
	}
	return err
}

// Str appends key=value, quoted as slog quotes text.
func (l *Line) Str(key, v string) *Line {
	l.b = append(l.b, ' ')
	l.b = append(l.b, key...)
	l.b = append(l.b, '=')
	l.b = appendText(l.b, v)
	return l
}

// Int appends key=v.
func (l *Line) Int(key string, v int64) *Line {
	l.b = append(l.b, ' ')
	l.b = append(l.b, key...)
	l.b = append(l.b, '=')
	l.b = strconv.AppendInt(l.b, v, 10)
	return l
}

// Dur appends key=v as time.Duration.String writes it.
func (l *Line) Dur(key string, v time.Duration) *Line {
	l.b = append(l.b, ' ')
	l.b = append(l.b, key...)
	l.b = append(l.b, '=')
	l.b = appendDuration(l.b, v)
	return l
}

// appendText appends s as slog's text handler does: as it is, or quoted
// with strconv when it is empty or has a space, '=', '"', a control
// character, invalid UTF-8 or a non-printing rune.
func appendText(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// needsQuoting is log/slog's rule for text values.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendRFC3339Millis is slog's time format: RFC 3339 with exactly three
// fractional digits.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// appendDuration appends d.String() without allocating for it.
func appendDuration(b []byte, d time.Duration) []byte {
	var buf [32]byte
	return append(b, formatDuration(buf[:0], d)...)
}

// formatDuration is time.Duration.String appending to b; see
// TestLineMatchesSlog for the check against it.
func formatDuration(b []byte, d time.Duration) []byte {
	if d == 0 {
		return append(b, "0s"...)
	}
	u := uint64(d)
	neg := d < 0
	if neg {
		u = -u
		b = append(b, '-')
	}
	if u < uint64(time.Second) {
		// Less than a second: ns, µs or ms with a fraction.
		var prec int
		var unit string
		switch {
		case u < uint64(time.Microsecond):
			return append(strconv.AppendUint(b, u, 10), "ns"...)
		case u < uint64(time.Millisecond):
			prec, unit = 3, "µs"
		default:
			prec, unit = 6, "ms"
		}
		b = appendFrac(b, u, prec)
		return append(b, unit...)
	}
	// Seconds and up: [h][m]s with the seconds' fraction.
	secs := u / uint64(time.Second)
	frac := u % uint64(time.Second)
	if h := secs / 3600; h > 0 {
		b = strconv.AppendUint(b, h, 10)
		b = append(b, 'h')
		secs %= 3600
		b = strconv.AppendUint(b, secs/60, 10)
		b = append(b, 'm')
	} else if m := secs / 60; m > 0 {
		b = strconv.AppendUint(b, m, 10)
		b = append(b, 'm')
	}
	b = strconv.AppendUint(b, secs%60, 10)
	b = appendFracDigits(b, frac, 9)
	return append(b, 's')
}

// appendFrac appends v / 10^prec with its fraction, trailing zeros dropped.
func appendFrac(b []byte, v uint64, prec int) []byte {
	p := uint64(1)
	for range prec {
		p *= 10
	}
	b = strconv.AppendUint(b, v/p, 10)
	return appendFracDigits(b, v%p, prec)
}

// appendFracDigits appends ".ddd" for frac as prec digits, trailing zeros
// dropped; nothing when frac is 0.
func appendFracDigits(b []byte, frac uint64, prec int) []byte {
	if frac == 0 {
		return b
	}
	var digits [9]byte
	for i := prec - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := prec
	for n > 0 && digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// Package sse reads and writes Server-Sent Events (text/event-stream) as
// specified by the WHATWG HTML standard, §9.2 "Server-sent events"
// (https://html.spec.whatwg.org/multipage/server-sent-events.html).
//
// The Reader is built for the gateway's streaming hot path: it never
// allocates per event once its buffers have grown to the stream's event
// size, and the slices it returns alias its internal buffers. The append-style
// writers (AppendEvent, AppendData) let callers reuse one output buffer for a
// whole stream.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrEventTooLarge is returned by Reader.Next when an event (or a single line,
// including a comment line) is larger than the limit set with
// Reader.SetMaxEventSize. It is sticky: every later call to Next returns it
// too, because the stream cannot be resynchronised reliably.
var ErrEventTooLarge = errors.New("sse: event too large")

// DefaultMaxEventSize is the event size limit of a new Reader: 16 MiB.
const DefaultMaxEventSize = 16 << 20

// bufferSize is the size of the Reader's read buffer; a line longer than this
// is assembled in a separate, growing buffer.
const bufferSize = 32 << 10

// maxEmptyReads is how many consecutive (0, nil) reads are tolerated before
// Next gives up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// Event is one dispatched server-sent event.
//
// All three slices alias the Reader's buffers and are valid only until the
// next call to Reader.Next or Reader.Reset; copy them to keep them.
type Event struct {
	// Name is the value of the last "event:" field of the event, or nil when
	// the event had none (an empty "event:" value counts as none, as the
	// spec then uses the default type "message").
	Name []byte
	// Data is the values of the event's "data:" fields joined with "\n", as
	// the spec says. It is nil when the event had no data field and empty
	// (non-nil) for a bare "data:" line. Trailing spaces are preserved
	// (Anthropic pads its data lines with them). Because CR and LF both
	// end a line, Data never contains '\r' and only contains '\n' between
	// lines.
	Data []byte
	// ID is the stream's last event ID: per the spec, an "id:" field sets
	// it and it then persists for later events until another "id:" field
	// changes it. It is nil when no id field has been seen. An id value
	// containing NUL is ignored, as the spec says.
	ID []byte
}

// Reader parses a text/event-stream body into events.
//
// It follows the WHATWG parsing rules: lines end in LF, CRLF or CR; a
// leading UTF-8 byte order mark is dropped; lines starting with ':' are
// comments; "field:value" has at most one space after the colon removed; a
// line without a colon is a field with an empty value; unknown fields (and
// "retry") are ignored; a blank line dispatches the event. Unlike a browser,
// the Reader also returns events that have a name but no data, and it skips
// events that have neither (comment-only or retry-only blocks).
//
// A Reader is not safe for concurrent use. The zero Reader is not usable;
// create one with NewReader.
type Reader struct {
	rd   io.Reader
	buf  []byte // read buffer, bufferSize bytes
	r, w int    // buf[r:w] is unread
	err  error  // error from rd, reported once buffered data is used up
	max  int

	line   []byte // assembles a line that does not fit in buf
	skipLF bool   // the previous line ended in CR; drop a following LF
	first  bool   // the next line is the first one (may start with a BOM)

	sticky error // ErrEventTooLarge, returned on every later call

	// The event being assembled.
	name, data, id  []byte
	hasName         bool
	hasData         bool
	hasID           bool
	pending         bool // a field line was read since the last dispatch
	size            int  // bytes accumulated in name+data for this event
	releaseLargeBuf bool // shrink oversized buffers at the next call
}

// NewReader returns a Reader reading from r with a 32 KiB buffer and the
// default event size limit (DefaultMaxEventSize).
func NewReader(r io.Reader) *Reader {
	sr := &Reader{buf: make([]byte, bufferSize), max: DefaultMaxEventSize}
	sr.Reset(r)
	return sr
}

// Reset discards all state, including buffered data, the last event ID and
// a sticky error, and makes the Reader read from rd. It keeps the buffers
// and the event size limit, so a Reader can be reused for many streams
// without allocating.
func (r *Reader) Reset(rd io.Reader) {
	r.rd = rd
	r.r, r.w = 0, 0
	r.err = nil
	r.line = r.line[:0]
	r.skipLF = false
	r.first = true
	r.sticky = nil
	r.resetEvent()
	r.id = r.id[:0]
	r.hasID = false
}

// SetMaxEventSize sets the largest event, in bytes of name plus data, that
// Next accepts; a line longer than n is also rejected. Beyond it Next
// returns ErrEventTooLarge. n <= 0 restores the default, DefaultMaxEventSize.
func (r *Reader) SetMaxEventSize(n int) {
	if n <= 0 {
		n = DefaultMaxEventSize
	}
	r.max = n
}

func (r *Reader) resetEvent() {
	r.name = r.name[:0]
	r.data = r.data[:0]
	r.hasName, r.hasData, r.pending = false, false, false
	r.size = 0
}

// Next reads up to and including the next blank line that ends an event
// with a name or data, and returns that event. Its slices are valid only
// until the next call (see Event).
//
// At the end of the stream Next returns io.EOF when the stream ended
// cleanly: after a blank line, or with only comments or blank lines since
// the last event. When the stream ends in the middle of an event (a field
// line was read, or a partial line is pending, without the blank line that
// dispatches it) it returns an error satisfying
// errors.Is(err, io.ErrUnexpectedEOF): the gateway uses this to tell a cut
// stream. Other read errors are returned wrapped, with %w. After
// ErrEventTooLarge the Reader is unusable until Reset.
func (r *Reader) Next() (Event, error) {
	if r.sticky != nil {
		return Event{}, r.sticky
	}
	if r.releaseLargeBuf {
		// Do not pin the memory of one giant event for the rest of a
		// long stream.
		const keep = 256 << 10
		if cap(r.data) > keep {
			r.data = nil
		}
		if cap(r.line) > keep {
			r.line = nil
		}
		r.releaseLargeBuf = false
	}
	r.resetEvent()
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF {
				if r.pending {
					return Event{}, fmt.Errorf("sse: stream ended in the middle of an event: %w", io.ErrUnexpectedEOF)
				}
				return Event{}, io.EOF
			}
			if err == ErrEventTooLarge {
				r.sticky = err
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if !r.hasData && !r.hasName {
				r.pending = false
				continue
			}
			ev := Event{}
			if r.hasName {
				ev.Name = r.name
			}
			if r.hasData {
				ev.Data = r.data
				if ev.Data == nil {
					ev.Data = []byte{} // a bare "data:" line: empty, not absent
				}
			}
			if r.hasID {
				ev.ID = r.id
			}
			if cap(r.data) > bufferSize || cap(r.line) > bufferSize {
				r.releaseLargeBuf = true
			}
			return ev, nil
		}
		if err := r.field(line); err != nil {
			r.sticky = err
			return Event{}, err
		}
	}
}

// field processes one non-blank line.
func (r *Reader) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	r.pending = true
	var name, value []byte
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	} else {
		name = line
	}
	switch string(name) {
	case "data":
		n := len(value)
		if r.hasData {
			n++
		}
		if r.size+n > r.max {
			return ErrEventTooLarge
		}
		r.size += n
		if r.hasData {
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		r.hasData = true
	case "event":
		if r.size-len(r.name)+len(value) > r.max {
			return ErrEventTooLarge
		}
		r.size += len(value) - len(r.name)
		r.name = append(r.name[:0], value...)
		r.hasName = len(value) > 0
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id = append(r.id[:0], value...)
			r.hasID = true
		}
	}
	return nil
}

// readLine returns the next line without its terminator. The line aliases
// r.buf or r.line and is valid until the next call. At the end of input a
// final unterminated line is discarded, as the spec says, but marks the
// event pending (unless it is a comment) so that Next reports a cut stream;
// readLine then returns io.EOF (or the read error).
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.readRawLine()
	if err != nil {
		return nil, err
	}
	if r.first {
		r.first = false
		line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	}
	return line, nil
}

func (r *Reader) readRawLine() ([]byte, error) {
	r.line = r.line[:0]
	spilled := false
	for {
		if r.skipLF && r.r < r.w {
			if r.buf[r.r] == '\n' {
				r.r++
			}
			r.skipLF = false
		}
		b := r.buf[r.r:r.w]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			end, next := i, i+1
			if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
				if j == i-1 {
					end = j // CRLF
				} else {
					end, next = j, j+1 // CR-terminated line before the LF
					r.skipLF = true
				}
			}
			r.r += next
			return r.finish(b[:end], spilled)
		}
		if j := bytes.IndexByte(b, '\r'); j >= 0 {
			r.r += j + 1
			r.skipLF = true
			return r.finish(b[:j], spilled)
		}
		// No terminator buffered: read more.
		if r.err != nil {
			err := r.err
			if len(b) == 0 && !spilled {
				return nil, err
			}
			// A final line without terminator: at EOF the spec discards
			// it; report it as a pending field so Next can tell a cut
			// stream. A trailing comment is harmless.
			if err == io.EOF {
				line := b
				if spilled {
					line = append(r.line, b...)
				}
				r.r = r.w
				if len(line) > 0 && line[0] != ':' {
					r.pending = true
				}
				return nil, io.EOF
			}
			r.r = r.w
			return nil, err
		}
		if r.r > 0 {
			copy(r.buf, b)
			r.w -= r.r
			r.r = 0
		}
		if r.w == len(r.buf) {
			// The line does not fit: move it aside and keep reading.
			if len(r.line)+r.w > r.max {
				return nil, ErrEventTooLarge
			}
			r.line = append(r.line, r.buf[:r.w]...)
			spilled = true
			r.w = 0
		}
		r.fill()
	}
}

// finish returns part, or the spilled prefix plus part for a long line.
func (r *Reader) finish(part []byte, spilled bool) ([]byte, error) {
	if !spilled {
		return part, nil
	}
	if len(r.line)+len(part) > r.max {
		return nil, ErrEventTooLarge
	}
	r.line = append(r.line, part...)
	return r.line, nil
}

// fill reads at least one byte into r.buf[r.w:], or records an error.
func (r *Reader) fill() {
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			r.err = errors.New("sse: reader returned invalid count")
			return
		}
		r.w += n
		if err != nil {
			if err != io.EOF {
				err = fmt.Errorf("sse: read: %w", err)
			}
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

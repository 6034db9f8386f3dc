package h1

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// bufWriter batches a connection's output: a response's head and small body
// leave in one write.
type bufWriter struct {
	nc  net.Conn
	buf []byte
	err error
}

var bufWriters = sync.Pool{New: func() any { return &bufWriter{buf: make([]byte, 0, 8<<10)} }}

func getBufWriter(nc net.Conn) *bufWriter {
	b := bufWriters.Get().(*bufWriter)
	b.nc, b.err = nc, nil
	return b
}

func putBufWriter(b *bufWriter) {
	b.nc, b.buf = nil, b.buf[:0]
	if cap(b.buf) <= 64<<10 {
		bufWriters.Put(b)
	}
}

// write appends p, sending what is held and p together (writev) when p
// does not fit.
func (b *bufWriter) write(p []byte) error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf)+len(p) <= cap(b.buf) {
		b.buf = append(b.buf, p...)
		return nil
	}
	bufs := net.Buffers{b.buf, p}
	if _, err := bufs.WriteTo(b.nc); err != nil {
		b.err = err
	}
	b.buf = b.buf[:0]
	return b.err
}

func (b *bufWriter) flush() error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf) > 0 {
		if _, err := b.nc.Write(b.buf); err != nil {
			b.err = err
		}
		b.buf = b.buf[:0]
	}
	return b.err
}

// response is the http.ResponseWriter of one request.
type response struct {
	c      *sconn
	req    *http.Request
	body   *reqBody // nil without a request body
	header http.Header
	head   bool // a HEAD request: body bytes are counted, not sent
	keep   bool // the connection may carry another request

	status      int
	wroteHeader bool
	sent        bool // the head is in c.bw
	chunked     bool
	noBody      bool  // the status allows no body
	clen        int64 // the handler's Content-Length; -1 none
	written     int64
	pend        []byte // body held back before the head, at most smallBody
	sniff       []byte // the body's first bytes, for a missing Content-Type
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	w.clen = -1
	w.noBody = code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	if cl := w.header["Content-Length"]; len(cl) > 0 && !w.noBody {
		if n, err := strconv.ParseInt(strings.Trim(cl[0], " \t"), 10, 64); err == nil && n >= 0 {
			w.clen = n
		} else {
			delete(w.header, "Content-Length") // net/http drops an invalid one too
		}
	}
	if hasToken(w.header["Connection"], "close") {
		w.keep = false
	}
}

// informational sends a 1xx answer at once (103 Early Hints).
func (w *response) informational(code int) {
	b := w.c.bw
	b.buf = appendStatusLine(b.buf, code)
	b.buf = appendHeader(b.buf, w.header, false, false)
	b.buf = append(b.buf, "\r\n"...)
	b.flush()
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		return 0, http.ErrBodyNotAllowed
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.head {
		if !w.sent && len(w.pend) == 0 {
			w.pend = append(getBuf(), p[:min(len(p), 512)]...) // for the Content-Type sniff
			w.sniff = w.pend
		}
		return len(p), nil
	}
	if !w.sent {
		if len(w.pend)+len(p) <= smallBody {
			if w.pend == nil {
				w.pend = getBuf()
			}
			w.pend = append(w.pend, p...)
			return len(p), nil
		}
		if len(w.pend) == 0 {
			w.sniff = p[:min(len(p), 512)]
		}
		w.sendHead(false)
	}
	if err := w.writeBody(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *response) writeBody(p []byte) error {
	if len(p) == 0 {
		return w.c.bw.err
	}
	b := w.c.bw
	if w.chunked {
		b.buf = strconv.AppendInt(b.buf, int64(len(p)), 16)
		b.buf = append(b.buf, "\r\n"...)
		if err := b.write(p); err != nil {
			return err
		}
		b.buf = append(b.buf, "\r\n"...)
		return nil
	}
	return b.write(p)
}

func (w *response) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		w.sendHead(false)
	}
	return w.c.bw.flush()
}

// sendHead writes the status line and headers into the connection's buffer,
// then the body held back. final means the handler has returned: a body
// that is all in pend gets a Content-Length.
func (w *response) sendHead(final bool) {
	w.sent = true
	if w.c.s.closing.Load() {
		w.keep = false
	}
	// A request body the handler has not read to its end: when what is
	// left is known and small (or the handler has returned), it is read and
	// dropped now, as net/http does (a client that sends its whole request
	// before reading cannot deadlock). Otherwise (more than discardLimit
	// left, a chunked body of unknown rest while the handler runs, a client
	// waiting for a 100 Continue it did not get) the
	// connection closes after this response, and the response says so; the
	// handler may go on reading. net/http also drops up to discardLimit of
	// a chunked body here, and a handler still reading it then gets the
	// bytes after the hole without an error.
	if b := w.body; b != nil && !b.done {
		switch {
		case b.expect && !b.asked, b.chunked && !final, !b.chunked && b.n > discardLimit:
			w.keep = false
		case !b.discard():
			w.keep = false
		}
	}
	// Framing: the handler's Content-Length; one this side adds for a body
	// that ended held back (HEAD: counted, unless nothing was written);
	// chunked on HTTP/1.1; else the close ends the body (HTTP/1.0). A 204
	// or 304 frames nothing.
	h := w.header
	autoLen := int64(-1)
	addTE := false
	switch {
	case w.noBody, w.clen >= 0:
	case final:
		if !w.head || w.written > 0 {
			autoLen = w.written
		}
	case w.req.ProtoMinor == 1:
		w.chunked = !w.head
		addTE = !hasToken(h["Transfer-Encoding"], "chunked")
	default:
		w.keep = false
	}
	b := w.c.bw
	b.buf = appendStatusLine(b.buf, w.status)
	b.buf = appendHeader(b.buf, h, w.noBody, !w.chunked)
	if _, ok := h["Date"]; !ok {
		b.buf = append(b.buf, "Date: "...)
		b.buf = append(b.buf, httpDate()...)
		b.buf = append(b.buf, "\r\n"...)
	}
	if autoLen >= 0 {
		b.buf = append(b.buf, "Content-Length: "...)
		b.buf = strconv.AppendInt(b.buf, autoLen, 10)
		b.buf = append(b.buf, "\r\n"...)
	}
	if addTE {
		b.buf = append(b.buf, "Transfer-Encoding: chunked\r\n"...)
	}
	if _, ok := h["Connection"]; !ok {
		switch {
		case !w.keep:
			b.buf = append(b.buf, "Connection: close\r\n"...)
		case w.req.ProtoMinor == 0:
			b.buf = append(b.buf, "Connection: keep-alive\r\n"...)
		}
	}
	if len(w.sniff) == 0 {
		w.sniff = w.pend
	}
	if _, ok := h["Content-Type"]; !ok && !w.noBody && len(w.sniff) > 0 {
		b.buf = append(b.buf, "Content-Type: "...)
		b.buf = append(b.buf, http.DetectContentType(w.sniff)...)
		b.buf = append(b.buf, "\r\n"...)
	}
	b.buf = append(b.buf, "\r\n"...)
	w.sniff = nil
	if len(w.pend) > 0 {
		if !w.head {
			w.writeBody(w.pend)
		}
		putBuf(w.pend)
		w.pend = nil
	}
}

// appendStatusLine appends "HTTP/1.1 200 OK\r\n".
func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = append(b, statusLine(code)...)
	return append(b, "\r\n"...)
}

// appendHeader appends h's lines, without Content-Length or
// Transfer-Encoding when told (this side frames the body); names that are
// not tokens are left out and CR or LF in a value become spaces, as net/http
// does, so a value cannot start a new header.
func appendHeader(b []byte, h http.Header, skipLength, skipTE bool) []byte {
	for k, vv := range h {
		if skipLength && k == "Content-Length" || skipTE && k == "Transfer-Encoding" || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			start := len(b)
			b = append(b, strings.Trim(v, " \t")...)
			for i := start; i < len(b); i++ {
				if b[i] == '\r' || b[i] == '\n' {
					b[i] = ' '
				}
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// finish completes the response after the handler returned; it reports
// whether the connection is still usable.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		w.sendHead(true)
	}
	if w.chunked {
		w.c.bw.buf = append(w.c.bw.buf, "0\r\n\r\n"...)
	}
	if w.clen >= 0 && w.written < w.clen && !w.head {
		w.keep = false // the client waits for bytes that will not come
	}
	return w.c.bw.flush() == nil
}

// Dates: net/http formats one per response; the second changes rarely.
var dateCache atomic.Pointer[dateEntry]

type dateEntry struct {
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &dateEntry{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}

// reqBody is a request body read from the connection's input.
type reqBody struct {
	c       *sconn
	w       *response
	n       int64 // bytes left in a Content-Length body, or in the current chunk
	chunked bool
	inChunk bool // chunked: inside a chunk's data (n bytes left)
	expect  bool // the client waits for 100 Continue
	asked   bool // 100 Continue sent
	done    bool // read to its end
	closed  bool
	err     error // sticky read error
}

var errReadClosedBody = errors.New("http: invalid Read on closed Body")

func (b *reqBody) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, errReadClosedBody
	case b.done:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	case len(p) == 0:
		return 0, nil
	}
	if b.expect && !b.asked {
		b.asked = true
		if !b.w.sent {
			bw := b.c.bw
			bw.buf = append(bw.buf, "HTTP/1.1 100 Continue\r\n\r\n"...)
			if err := bw.flush(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	n, err := b.read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *reqBody) read(p []byte) (int, error) {
	c := b.c
	if b.chunked && !b.inChunk {
		if err := b.nextChunk(); err != nil {
			return 0, err
		}
		if b.done {
			return 0, io.EOF
		}
	}
	var n int
	if len(c.unread()) == 0 && len(p) >= queueSize {
		// A large read of a large body: straight from the socket into p.
		var err error
		if n, err = c.readInto(p[:min(int64(len(p)), b.n)]); err != nil && n == 0 {
			return 0, io.ErrUnexpectedEOF
		}
	} else {
		for len(c.unread()) == 0 {
			if err := c.fill(); err != nil {
				return 0, io.ErrUnexpectedEOF
			}
		}
		n = copy(p[:min(int64(len(p)), b.n)], c.unread())
		c.off += n
	}
	b.n -= int64(n)
	if b.n > 0 {
		return n, nil
	}
	if !b.chunked {
		b.done = true
		return n, io.EOF
	}
	b.inChunk = false
	// The chunk's CRLF.
	line, err := b.line(true)
	if err != nil {
		return n, err
	}
	if len(line) != 0 {
		return n, errors.New("h1: malformed chunked request body: data longer than its chunk size")
	}
	return n, nil
}

// line reads one line of chunk framing, at most 4 KiB. Chunk-size lines
// and the end of chunk data must end in CRLF (a bare LF is refused, as
// net/http refuses it: parsers that disagree on it let requests be
// smuggled); trailer lines may end in LF.
func (b *reqBody) line(crlf bool) ([]byte, error) {
	c := b.c
	for {
		in := c.unread()
		if i := bytes.IndexByte(in, '\n'); i >= 0 {
			c.off += i + 1
			line := in[:i]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			} else if crlf {
				return nil, errors.New("h1: malformed chunked request body: a line ends with a bare LF")
			}
			if crlf && bytes.IndexByte(line, '\r') >= 0 {
				return nil, errors.New("h1: malformed chunked request body: a CR inside a framing line")
			}
			return line, nil
		}
		if len(in) > 4<<10 {
			return nil, errors.New("h1: malformed chunked request body: framing line too long")
		}
		if err := c.fill(); err != nil {
			return nil, io.ErrUnexpectedEOF
		}
	}
}

// nextChunk reads a chunk-size line; the last chunk's trailer is read and
// dropped.
func (b *reqBody) nextChunk() error {
	line, err := b.line(true)
	if err != nil {
		return err
	}
	// As net/http reads it: spaces may end the line, then an extension
	// follows the size directly.
	line = bytes.TrimRight(line, " \t")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 || len(line) > 15 {
		return errors.New("h1: malformed chunked request body: bad chunk size")
	}
	var n int64
	for _, ch := range line {
		var d byte
		switch {
		case ch >= '0' && ch <= '9':
			d = ch - '0'
		case ch >= 'a' && ch <= 'f':
			d = ch - 'a' + 10
		case ch >= 'A' && ch <= 'F':
			d = ch - 'A' + 10
		default:
			return errors.New("h1: malformed chunked request body: bad chunk size")
		}
		n = n<<4 | int64(d)
	}
	if n > 0 {
		b.n, b.inChunk = n, true
		return nil
	}
	for { // trailer
		t, err := b.line(false)
		if err != nil {
			return err
		}
		if len(t) == 0 {
			b.done = true
			return nil
		}
	}
}

func (b *reqBody) Close() error {
	b.closed = true
	return nil
}

// discard reads and drops what the handler left of the body, so the
// connection can carry the next request; it reports false when that is not
// possible (too much left, a client still waiting for 100 Continue, a bad
// body).
func (b *reqBody) discard() bool {
	if b.done {
		return true
	}
	if b.err != nil || b.expect && !b.asked {
		return false
	}
	buf := getBuf()
	defer putBuf(buf)
	buf = buf[:cap(buf)]
	for left := discardLimit; !b.done; {
		n, err := b.read(buf)
		if left -= n; left < 0 || err != nil && err != io.EOF {
			return false
		}
	}
	return true
}

package h1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
)

// body is a response body read straight from its connection. At its end the
// connection goes back to the idle pool if the answer allows keep-alive;
// closed before its end, the connection is closed (draining an unknown rest
// could take longer than a new connection).
//
// Read and Close must not be called concurrently.
type body struct {
	t    *Transport
	c    *conn
	ctx  context.Context
	stop func() bool // unregisters the cancellation hook; false once it ran

	mode    int   // how the body is delimited: modeLength, modeChunked, modeClose
	n       int64 // bytes left in modeLength
	chunks  io.Reader
	keep    bool // the answer allows keep-alive
	done    bool
	err     error // sticky: what Read returns after the end
	trailer int   // header byte budget left for a chunked trailer
}

const (
	modeLength = iota
	modeChunked
	modeClose
)

// newBody frames resp's body per RFC 9112 §6.3 and attaches it to c. Answers
// without a body end (and free the connection) at once.
func (t *Transport) newBody(c *conn, resp *http.Response, req *http.Request, stop func() bool) (io.ReadCloser, error) {
	b := &body{t: t, c: c, ctx: req.Context(), stop: stop, trailer: 64 << 10}
	b.keep = resp.ProtoMinor == 1 && !req.Close && !hasToken(resp.Header["Connection"], "close")
	resp.Close = !b.keep
	resp.ContentLength = -1

	if req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.StatusCode/100 == 1 {
		resp.ContentLength = 0
		if cl, err := parseLength(resp.Header["Content-Length"]); err == nil && req.Method == http.MethodHead {
			resp.ContentLength = cl
		}
		b.finish(b.keep)
		return http.NoBody, nil
	}
	te := resp.Header["Transfer-Encoding"]
	cl := resp.Header["Content-Length"]
	switch {
	case len(te) > 0:
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return nil, fmt.Errorf("h1: unsupported transfer encoding %q", strings.Join(te, ", "))
		}
		delete(resp.Header, "Transfer-Encoding")
		delete(resp.Header, "Content-Length") // chunked framing wins (RFC 9112 §6.3)
		resp.TransferEncoding = chunkedTE
		b.mode = modeChunked
	case len(cl) > 0:
		n, err := parseLength(cl)
		if err != nil {
			return nil, err
		}
		resp.ContentLength = n
		b.mode, b.n = modeLength, n
	default:
		b.mode = modeClose
		b.keep = false
		resp.Close = true
	}
	if b.mode == modeLength && b.n == 0 {
		b.finish(b.keep)
		return http.NoBody, nil
	}
	if b.mode == modeChunked {
		b.chunks = httputil.NewChunkedReader(c.br)
	}
	return b, nil
}

var chunkedTE = []string{"chunked"}

func parseLength(values []string) (int64, error) {
	if len(values) == 0 {
		return -1, errors.New("h1: no Content-Length")
	}
	first := strings.TrimSpace(values[0])
	for _, v := range values[1:] {
		if strings.TrimSpace(v) != first {
			return 0, errors.New("h1: conflicting Content-Length headers in the response")
		}
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || strings.TrimLeft(first, "0123456789") != "" { // digits only: no sign
		return 0, fmt.Errorf("h1: invalid Content-Length %q in the response", first)
	}
	return n, nil
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n   int
		err error
	)
	switch b.mode {
	case modeLength:
		if int64(len(p)) > b.n {
			p = p[:b.n]
		}
		n, err = b.c.br.Read(p)
		b.n -= int64(n)
		if b.n == 0 {
			b.end(nil)
			return n, nil // the next Read says io.EOF
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	case modeChunked:
		n, err = b.chunks.Read(p)
		if errors.Is(err, io.EOF) {
			if terr := b.readTrailer(); terr != nil {
				return n, b.fail(terr)
			}
			b.end(nil)
			return n, io.EOF
		}
	default:
		n, err = b.c.br.Read(p)
		if errors.Is(err, io.EOF) {
			b.end(nil)
			return n, io.EOF
		}
	}
	if err != nil {
		return n, b.fail(err)
	}
	return n, nil
}

// readTrailer consumes the trailer section after the last chunk.
func (b *body) readTrailer() error {
	for {
		line, err := readLine(b.c.br, &b.trailer)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("h1: read trailer: %w", err)
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// end marks the body read whole; err nil means a clean end.
func (b *body) end(err error) {
	if err == nil {
		err = io.EOF
	}
	b.err = err
	b.finish(b.keep && b.mode != modeClose)
}

// fail ends the body on a read error: the context's error when it was
// cancelled (that is why the read failed), else the read error.
func (b *body) fail(err error) error {
	if cerr := b.ctx.Err(); cerr != nil {
		err = cerr
	} else if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	b.err = err
	b.finish(false)
	return err
}

// finish frees the connection: back to the pool when reuse is safe, else
// closed.
func (b *body) finish(reuse bool) {
	if b.c == nil {
		return
	}
	b.done = true
	if b.err == nil {
		b.err = io.EOF
	}
	c := b.c
	b.c = nil
	stopped := b.stop()
	sem := c.sem
	c.sem = nil
	if reuse && stopped && c.br.Buffered() == 0 {
		c.detach()
		b.t.put(c)
	} else {
		c.nc.Close()
		c.detach()
	}
	release(sem)
}

// Close ends the body; before its end that closes the connection.
func (b *body) Close() error {
	if b.c != nil {
		if !b.done {
			b.err = errBodyClosed
		}
		b.finish(false)
	}
	return nil
}

var errBodyClosed = errors.New("h1: read on a closed response body")

var _ io.ReadCloser = (*body)(nil)

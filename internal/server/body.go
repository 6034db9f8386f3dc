package server

import (
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Buffers for request and response bodies are pooled: at thousands of
// requests a second, allocating each body anew is most of the garbage the
// gateway would make. Buffers that grew past maxPooled are dropped rather than
// kept, so one huge request does not pin its memory forever. A request holds
// three (its body, the rewritten body, the answer) while it runs; chat
// bodies are mostly under 4 KiB, and with 16 KiB buffers 64 requests in
// flight held 3 MB, which the GC's heap goal doubled (closed-loop RSS 51-52
// against 49-50 MB with 4 KiB). Larger bodies grow theirs, and keep the
// growth while pooled.
const (
	initialBuf = 4 << 10
	maxPooled  = 1 << 20
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, initialBuf); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// readRequest reads the request body and counts it against
// server.max_in_flight_bytes until the request finishes: past the bound the
// gateway answers 503 at once rather than holding ever more bodies while an
// upstream cannot keep up.
func (s *Server) readRequest(x *exchange, r *http.Request, buf *[]byte) ([]byte, error) {
	body, err := readBody(r, x.rt.maxBody, buf)
	if err != nil {
		return nil, err
	}
	n := int64(len(body))
	if s.inFlightBytes.Add(n) > int64(x.rt.cfg.Server.MaxInFlightBytes) {
		s.inFlightBytes.Add(-n)
		return nil, &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded", RetryAfter: "1",
			Message: "the gateway is holding as many requests as it may (server.max_in_flight_bytes); retry shortly"}
	}
	x.heldBytes = n
	return body, nil
}

// readBody reads the request body into a pooled buffer, refusing bodies over
// max before reading them whole: a declared Content-Length over the limit is
// refused at once, and a chunked body is cut off one byte past it.
func readBody(r *http.Request, max int64, buf *[]byte) ([]byte, error) {
	if r.ContentLength > max {
		return nil, tooLarge(max)
	}
	dst := (*buf)[:0]
	if n := r.ContentLength; n > 0 && int64(cap(dst)) <= n {
		// Sized once: growing a pooled 4 KiB buffer to a 50 KB body step by
		// step allocated and copied it several times. One spare byte lets the
		// read that reports EOF land without another growth.
		dst = make([]byte, 0, n+1)
	}
	b, err := readAll(r.Body, max, dst)
	*buf = b
	if err == errTooLong {
		return nil, tooLarge(max)
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return b, nil
}

func tooLarge(max int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
		Message: fmt.Sprintf("request body is larger than the gateway's limit of %d bytes (server.max_body_bytes); send a smaller request or raise the limit", max)}
}

var errTooLong = fmt.Errorf("body over limit")

// readAll appends r to dst until EOF, failing with errTooLong past max bytes.
func readAll(r io.Reader, max int64, dst []byte) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > max {
			return dst, errTooLong
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

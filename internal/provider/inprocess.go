package provider

import (
	"io"
	"net/http"
	"sync"
)

// HandlerTransport is an http.RoundTripper that serves requests with an
// in-process http.Handler instead of the network. The simulator provider uses
// it so the built-in demo model goes through exactly the same adapter code as a
// real upstream. Response bodies stream through an io.Pipe: a handler's Write
// blocks until the gateway reads, which gives the same backpressure as a socket.
// Each request runs the handler on its own goroutine; that is acceptable for the
// simulator and is not used for real providers.
type HandlerTransport struct {
	Handler http.Handler
}

// RoundTrip runs the handler and returns as soon as it has written its status
// (or its first body byte, or returned).
func (t HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	pr, pw := io.Pipe()
	rw := &pipeResponseWriter{header: make(http.Header), pw: pw, ready: make(chan struct{})}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:0"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				// http.ErrAbortHandler is how a handler cuts a connection; the
				// client must see a broken body, never a clean EOF.
				pw.CloseWithError(io.ErrUnexpectedEOF)
				rw.markReady(http.StatusOK)
				if v != http.ErrAbortHandler {
					panic(v)
				}
				return
			}
			rw.markReady(http.StatusOK)
			pw.Close()
		}()
		t.Handler.ServeHTTP(rw, sreq)
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	resp := &http.Response{
		Status:        http.StatusText(rw.status),
		StatusCode:    rw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}
	return resp, nil
}

// pipeResponseWriter is the handler's side of HandlerTransport.
type pipeResponseWriter struct {
	header http.Header
	sent   http.Header
	status int
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeResponseWriter) Header() http.Header { return w.header }

func (w *pipeResponseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return
	}
	w.markReady(code)
}

func (w *pipeResponseWriter) markReady(code int) {
	w.once.Do(func() {
		w.status = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponseWriter) Write(p []byte) (int, error) {
	w.markReady(http.StatusOK)
	// After the reader closes the body, Write fails and the handler stops,
	// as it would on a closed socket.
	return w.pw.Write(p)
}

// Flush is a no-op: every Write already reaches the reader.
func (w *pipeResponseWriter) Flush() {}

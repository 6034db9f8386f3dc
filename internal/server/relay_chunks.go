package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/switchboard-gw/switchboard/internal/sse"
)

// converter turns one upstream stream event into client bytes: a
// translator, or a pass-through that reads usage on the way. end is called
// once at the upstream's clean end of stream and may append closing bytes
// (a translator owing a final usage chunk and [DONE]).
type converter interface {
	event(dst []byte, ev sse.Event) ([]byte, error)
	end(dst []byte) []byte
	complete() bool // the upstream finished its answer properly
	failed() bool   // the upstream ended with an in-band error, passed on
}

// chunkSource yields the client bytes of an upstream stream, unit by unit
// (an SSE event, a binary frame). next returns io.EOF after the upstream's
// end; read errors are returned as they are.
type chunkSource interface {
	next(dst []byte) ([]byte, error)
	complete() bool
	failed() bool
}

// sseSource reads SSE events and converts them.
type sseSource struct {
	rd    *sse.Reader
	conv  converter
	ended bool
}

func (s *sseSource) next(dst []byte) ([]byte, error) {
	if s.ended {
		return dst, io.EOF
	}
	ev, err := s.rd.Next()
	if errors.Is(err, io.EOF) {
		s.ended = true
		return s.conv.end(dst), nil
	}
	if err != nil {
		return dst, err
	}
	return s.conv.event(dst, ev)
}

func (s *sseSource) complete() bool { return s.conv.complete() }
func (s *sseSource) failed() bool   { return s.conv.failed() }

// relaySSE relays an SSE upstream through conv.
func (a *attempt) relaySSE(resp *http.Response, conv converter) error {
	if err := a.checkStreamType(resp, "text/event-stream"); err != nil {
		return err
	}
	src, release := a.newSSESource(resp, conv)
	defer release()
	return a.relayChunks(src)
}

// newSSESource reads resp's body as SSE through conv, with a pooled reader
// that release returns.
func (a *attempt) newSSESource(resp *http.Response, conv converter) (*sseSource, func()) {
	rd := readerPool.Get().(*sse.Reader)
	rd.Reset(&firstByteReader{r: resp.Body, a: a})
	return &sseSource{rd: rd, conv: conv}, func() { rd.Reset(nil); readerPool.Put(rd) }
}

func (a *attempt) checkStreamType(resp *http.Response, want string) error {
	if ct := resp.Header.Get("Content-Type"); !isMediaType(ct, want) {
		a.gotFirstByte()
		return badGateway(fmt.Sprintf("provider %q answered a streaming request with content-type %q instead of %s; that is not the API (check the provider's base_url)", a.p.Name, ct, want))
	}
	return nil
}

// relayChunks is the streaming relay for translated and pass-through
// streams (DESIGN.md §5): nothing is written before the first unit that
// produces client bytes, so an attempt that fails before it can still be
// retried or fall back; each unit is flushed as it is produced; after the
// first byte a failure ends the stream in-band, in the client's dialect.
func (a *attempt) relayChunks(src chunkSource) error {
	x := a.x
	buf := getBuf()
	defer putBuf(buf)
	out := (*buf)[:0]
	defer func() { *buf = out }()
	rc := http.NewResponseController(x)
	committed := false
	for {
		var err error
		out, err = src.next(out[:0])
		if err == nil {
			if len(out) == 0 {
				continue
			}
			if !committed {
				h := x.Header()
				h.Set("Content-Type", "text/event-stream; charset=utf-8")
				h.Set("Cache-Control", "no-cache")
				h.Set("X-Accel-Buffering", "no") // tell nginx in front of us not to buffer
				x.WriteHeader(http.StatusOK)
				committed = true
			}
			if _, err := x.Write(out); err != nil {
				return errClientGone
			}
			if err := rc.Flush(); err != nil {
				return errClientGone
			}
			if src.failed() {
				x.errClass = "upstream_stream_error"
				return nil
			}
			continue
		}
		var e error
		switch {
		case a.r.Context().Err() != nil:
			return errClientGone
		case errors.Is(err, io.EOF) && src.complete():
			return nil
		case errors.Is(err, io.EOF) && !committed:
			e = badGateway(fmt.Sprintf("provider %q ended the stream before sending any event", a.p.Name))
		case errors.Is(err, io.EOF):
			e = badGateway(fmt.Sprintf("provider %q ended the stream before it was complete; the answer is incomplete", a.p.Name))
		case a.ctx.Err() != nil:
			e = a.failure(err)
		case !committed:
			var pe *protocolError
			if errors.As(err, &pe) {
				e = badGateway(fmt.Sprintf("provider %q sent a stream the gateway cannot read (%v)", a.p.Name, pe.err))
			} else {
				e = badGateway(fmt.Sprintf("provider %q broke off the stream before its first event: %s", a.p.Name, streamCause(err)))
			}
		default:
			e = badGateway(fmt.Sprintf("provider %q broke off the stream: %s; the answer is incomplete", a.p.Name, streamCause(err)))
		}
		if !committed {
			a.gotFirstByte()
			return e
		}
		out = a.streamError(out[:0], toError(e))
		x.Write(out)
		rc.Flush()
		return nil
	}
}

// protocolError marks a stream unit the gateway could not understand (as
// opposed to a broken connection).
type protocolError struct{ err error }

func (p *protocolError) Error() string { return p.err.Error() }
func (p *protocolError) Unwrap() error { return p.err }

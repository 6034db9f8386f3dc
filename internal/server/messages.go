package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/route"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/anthropic"
)

// messages serves POST /v1/messages, the Anthropic Messages API, so the
// Anthropic SDKs and the tools built on them can use the gateway by changing
// their base URL. Routing is the same as for chat completions (rules,
// weights, retries, fallbacks, breakers); to an Anthropic provider the bytes
// pass through with only "model" rewritten, to an OpenAI-dialect provider the
// request and the answer are translated. Errors use Anthropic's shape.
func (s *Server) messages(x *exchange, r *http.Request) error {
	x.anthropic = true
	rt := x.rt
	key, err := rt.authenticate(r)
	if err != nil {
		return err
	}
	if key != nil {
		x.key = key.Name
	}
	in := getBuf()
	defer putBuf(in)
	body, err := readBody(r, rt.maxBody, in)
	if err != nil {
		return err
	}
	req, err := anthropic.ScanRequest(body)
	if err != nil {
		return err
	}
	x.model, x.streaming = req.Model, req.Stream
	m, err := s.resolveModel(x, r, key, req.Model, nil)
	if err != nil {
		return err
	}
	out := getBuf()
	defer putBuf(out)
	ri := routeInput{op: provider.OpChat, areq: &req, body: body, key: key, out: out, sticky: sticky(m, x, "")}
	if req.Stream {
		return s.route(x, r, ri, m)
	}
	return s.idempotent(x, r, key, body, func() error { return s.route(x, r, ri, m) })
}

// prepareMessages builds the upstream body of an Anthropic client's request.
func prepareMessages(in routeInput, p *provider.Provider, tgt route.Target) ([]byte, error) {
	switch p.Dialect {
	case provider.DialectAnthropic:
		*in.out = in.areq.RewriteModel((*in.out)[:0], in.body, tgt.Model)
		return *in.out, nil
	case provider.DialectOpenAI:
		return anthropic.FromMessagesRequest(in.body, tgt.Model)
	}
	return nil, badRequest("model", fmt.Sprintf("provider %q cannot serve the Messages API", p.Name))
}

// countTokens serves POST /v1/messages/count_tokens by asking the Anthropic
// provider of the model. Other providers have no such endpoint and the
// gateway does not guess: the request is refused with a clear error.
func (s *Server) countTokens(x *exchange, r *http.Request) error {
	x.anthropic = true
	rt := x.rt
	key, err := rt.authenticate(r)
	if err != nil {
		return err
	}
	in := getBuf()
	defer putBuf(in)
	body, err := readBody(r, rt.maxBody, in)
	if err != nil {
		return err
	}
	req, err := anthropic.ScanRequest(body)
	if err != nil {
		return err
	}
	x.model = req.Model
	m, err := s.resolveModel(x, r, key, req.Model, nil)
	if err != nil {
		return err
	}
	tgt := m.Pick()
	p := rt.providers[tgt.Provider]
	if p.Dialect != provider.DialectAnthropic {
		return badRequest("model", fmt.Sprintf("model %q is served by provider %q (%s); token counting is available for Anthropic providers only", req.Model, p.Name, p.Type))
	}
	out := getBuf()
	defer putBuf(out)
	*out = req.RewriteModel((*out)[:0], body, tgt.Model)
	x.provider, x.upstream = p.Name, tgt.Model
	upreq, _, err := p.NewRequestPath(r.Context(), "/v1/messages/count_tokens", *out)
	if err != nil {
		return err
	}
	resp, err := p.Do(upreq)
	if err != nil {
		a := &attempt{s: s, x: x, r: r, p: p, ctx: r.Context()}
		return a.failure(err)
	}
	defer resp.Body.Close()
	a := &attempt{s: s, x: x, r: r, p: p, ctx: r.Context()}
	buf := getBuf()
	defer putBuf(buf)
	ans, err := a.readUpstream(resp, buf)
	if err != nil {
		return err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 != 2 {
		return a.anthropicError(resp, ct, ans)
	}
	return a.writeBody(ct, ans)
}

// relayMessagesBody passes a non-streamed Anthropic answer through as it is,
// after checking it is a Message (or a count_tokens answer) and reading its
// usage.
func (a *attempt) relayMessagesBody(resp *http.Response) error {
	buf := getBuf()
	defer putBuf(buf)
	body, err := a.readUpstream(resp, buf)
	if err != nil {
		return err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 != 2 {
		return a.anthropicError(resp, ct, body)
	}
	if !isMediaType(ct, "application/json") {
		return badGateway(fmt.Sprintf("provider %q answered with content-type %q instead of JSON; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	u, err := anthropic.MessageUsage(body)
	if err != nil {
		return badGateway(fmt.Sprintf("provider %q sent a response that is not a valid Message (%v); it was cut off or is not the API", a.p.Name, err))
	}
	a.x.usage, a.x.hasUsage = openaiUsage(u), true
	return a.writeBody(ct, body)
}

// relayInboundBody translates a non-streamed OpenAI answer into a Message.
func (a *attempt) relayInboundBody(resp *http.Response) error {
	buf := getBuf()
	defer putBuf(buf)
	body, err := a.readUpstream(resp, buf)
	if err != nil {
		return err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 != 2 {
		return a.upstreamError(resp, ct, body)
	}
	if !isMediaType(ct, "application/json") {
		return badGateway(fmt.Sprintf("provider %q answered with content-type %q instead of JSON; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	out, u, err := anthropic.ToMessage(body, a.x.upstream)
	if err != nil {
		return badGateway(fmt.Sprintf("provider %q sent a response that is not a valid chat completion (%v); it was cut off or is not the API", a.p.Name, err))
	}
	a.x.usage, a.x.hasUsage = openaiUsage(u), true
	return a.writeBody("application/json", out)
}

// readUpstream reads a non-streamed upstream body whole into buf.
func (a *attempt) readUpstream(resp *http.Response, buf *[]byte) ([]byte, error) {
	body, err := readAll(&firstByteReader{r: resp.Body, a: a}, maxUpstreamBody, (*buf)[:0])
	*buf = body
	if err == errTooLong {
		return nil, badGateway(fmt.Sprintf("provider %q sent a response over %d bytes; that is not a normal API answer", a.p.Name, maxUpstreamBody))
	}
	if err != nil {
		if a.r.Context().Err() != nil || a.ctx.Err() != nil {
			return nil, a.failure(err)
		}
		return nil, badGateway(fmt.Sprintf("provider %q broke off its response after %d bytes: %s", a.p.Name, len(body), transportCause(err)))
	}
	return body, nil
}

func (a *attempt) writeBody(ct string, body []byte) error {
	h := a.x.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	a.x.WriteHeader(http.StatusOK)
	if _, err := a.x.Write(body); err != nil {
		return errClientGone
	}
	return nil
}

// eventSink turns upstream SSE events into client bytes: pass-through or a
// translator. done reports a complete stream, failed one that ended with an
// in-band error (passed on).
type eventSink interface {
	event(dst []byte, ev sse.Event) ([]byte, error)
	done() bool
	failed() bool
}

// relayMessagesStream passes an Anthropic stream through event by event,
// following its usage.
func (a *attempt) relayMessagesStream(resp *http.Response) error {
	return a.relayEvents(resp, &passSink{})
}

// relayInboundStream translates an OpenAI stream into Anthropic events.
func (a *attempt) relayInboundStream(resp *http.Response) error {
	return a.relayEvents(resp, &inboundSink{st: anthropic.NewInboundStream(a.x.upstream), x: a.x})
}

type passSink struct{ t anthropic.UsageTracker }

func (p *passSink) event(dst []byte, ev sse.Event) ([]byte, error) {
	p.t.Event(ev.Name, ev.Data)
	return sse.AppendEvent(dst, ev.Name, ev.Data), nil
}
func (p *passSink) done() bool   { return p.t.Done }
func (p *passSink) failed() bool { return p.t.Failed }

type inboundSink struct {
	st  *anthropic.InboundStream
	x   *exchange
	end bool
}

func (s *inboundSink) event(dst []byte, ev sse.Event) ([]byte, error) {
	if bytes.Equal(ev.Data, doneData) {
		s.end = true
		return s.st.Finish(dst), nil
	}
	out, err := s.st.Chunk(dst, ev.Data)
	s.x.usage, s.x.hasUsage = openaiUsage(s.st.Usage()), true
	return out, err
}
func (s *inboundSink) done() bool   { return s.end }
func (s *inboundSink) failed() bool { return false }

// relayEvents is the streaming relay for Anthropic clients: nothing is
// written before the first event that produces output, every event is
// flushed as it comes, and a failure after the first byte ends the stream
// with an Anthropic error event.
func (a *attempt) relayEvents(resp *http.Response, sink eventSink) error {
	x := a.x
	ct := resp.Header.Get("Content-Type")
	if !isMediaType(ct, "text/event-stream") {
		a.gotFirstByte()
		return badGateway(fmt.Sprintf("provider %q answered a streaming request with content-type %q instead of text/event-stream; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	rd := readerPool.Get().(*sse.Reader)
	rd.Reset(&firstByteReader{r: resp.Body, a: a})
	defer func() { rd.Reset(nil); readerPool.Put(rd) }()
	buf := getBuf()
	defer putBuf(buf)
	out := (*buf)[:0]
	defer func() { *buf = out }()
	rc := http.NewResponseController(x)
	committed := false
	for {
		ev, err := rd.Next()
		if err == nil {
			if out, err = sink.event(out[:0], ev); err != nil {
				err = badGateway(fmt.Sprintf("provider %q sent a stream event the gateway cannot read (%v)", a.p.Name, err))
				if !committed {
					return err
				}
				out = a.streamError(out[:0], toError(err))
				x.Write(out)
				rc.Flush()
				return nil
			}
			if len(out) == 0 {
				continue
			}
			if !committed {
				h := x.Header()
				h.Set("Content-Type", "text/event-stream; charset=utf-8")
				h.Set("Cache-Control", "no-cache")
				h.Set("X-Accel-Buffering", "no")
				x.WriteHeader(http.StatusOK)
				committed = true
			}
			if _, err := x.Write(out); err != nil {
				return errClientGone
			}
			if err := rc.Flush(); err != nil {
				return errClientGone
			}
			if sink.failed() {
				x.errClass = "upstream_stream_error"
				return nil
			}
			continue
		}
		if !committed {
			a.gotFirstByte()
			switch {
			case a.r.Context().Err() != nil || a.ctx.Err() != nil:
				return a.failure(err)
			case errors.Is(err, io.EOF):
				return badGateway(fmt.Sprintf("provider %q ended the stream before sending any event", a.p.Name))
			}
			return badGateway(fmt.Sprintf("provider %q broke off the stream before its first event: %s", a.p.Name, streamCause(err)))
		}
		var e error
		switch {
		case a.r.Context().Err() != nil:
			return errClientGone
		case errors.Is(err, io.EOF) && sink.done():
			return nil
		case errors.Is(err, io.EOF):
			e = badGateway(fmt.Sprintf("provider %q ended the stream before it was complete; the answer is incomplete", a.p.Name))
		case a.ctx.Err() != nil:
			e = a.failure(err)
		default:
			e = badGateway(fmt.Sprintf("provider %q broke off the stream: %s; the answer is incomplete", a.p.Name, streamCause(err)))
		}
		out = a.streamError(out[:0], toError(e))
		x.Write(out)
		rc.Flush()
		return nil
	}
}

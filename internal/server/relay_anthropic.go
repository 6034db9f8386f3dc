package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/anthropic"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// The cross-dialect path of DESIGN.md §6 for an OpenAI client and an
// Anthropic provider: the request was translated by anthropic.ToMessages,
// and the answer is translated back here, streams event by event.

// relayAnthropicBody translates a non-streamed Messages answer.
func (a *attempt) relayAnthropicBody(resp *http.Response) error {
	buf := getBuf()
	defer putBuf(buf)
	body, err := readAll(&firstByteReader{r: resp.Body, a: a}, maxUpstreamBody, (*buf)[:0])
	*buf = body
	if err == errTooLong {
		return badGateway(fmt.Sprintf("provider %q sent a response over %d bytes; that is not a normal API answer", a.p.Name, maxUpstreamBody))
	}
	if err != nil {
		if a.r.Context().Err() != nil || a.ctx.Err() != nil {
			return a.failure(err)
		}
		return badGateway(fmt.Sprintf("provider %q broke off its response after %d bytes: %s", a.p.Name, len(body), transportCause(err)))
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 != 2 {
		return a.anthropicError(resp, ct, body)
	}
	if !isMediaType(ct, "application/json") {
		return badGateway(fmt.Sprintf("provider %q answered with content-type %q instead of JSON; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	out, usage, err := anthropic.FromMessage(body, a.x.upstream)
	if err != nil {
		return badGateway(fmt.Sprintf("provider %q sent a response that is not a valid Messages answer (%v); it was cut off or is not the API", a.p.Name, err))
	}
	a.x.usage, a.x.hasUsage = openaiUsage(usage), true
	h := a.x.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	a.x.WriteHeader(http.StatusOK)
	if _, err := a.x.Write(out); err != nil {
		return errClientGone
	}
	return nil
}

// anthropicError maps an Anthropic error answer to the OpenAI error shape
// and a failure class.
func (a *attempt) anthropicError(resp *http.Response, ct string, body []byte) error {
	if isMediaType(ct, "application/json") {
		if e, ok := anthropic.ParseError(resp.StatusCode, body); ok {
			oe := openai.APIError{Type: e.Type, Code: e.Code, Message: e.Message}
			return &Error{Status: e.Status, Type: e.Type, Code: e.Code, RetryAfter: resp.Header.Get("Retry-After"),
				Message: fmt.Sprintf("provider %q: %s", a.p.Name, e.Message),
				class:   classify(e.Status, oe), hint: retryHint(resp.Header)}
		}
	}
	return a.upstreamError(resp, ct, body)
}

// relayAnthropicStream translates a Messages SSE stream into OpenAI chunks,
// with the same first-byte and in-band failure rules as relayStream.
func (a *attempt) relayAnthropicStream(resp *http.Response, clientUsage bool) error {
	x := a.x
	ct := resp.Header.Get("Content-Type")
	if !isMediaType(ct, "text/event-stream") {
		a.gotFirstByte()
		return badGateway(fmt.Sprintf("provider %q answered a streaming request with content-type %q instead of text/event-stream; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	rd := readerPool.Get().(*sse.Reader)
	rd.Reset(&firstByteReader{r: resp.Body, a: a})
	defer func() { rd.Reset(nil); readerPool.Put(rd) }()
	st := anthropic.NewStream(x.upstream, clientUsage)
	buf := getBuf()
	defer putBuf(buf)
	out := (*buf)[:0]
	defer func() { *buf = out }()

	committed := false
	for {
		ev, err := rd.Next()
		if err != nil {
			if !committed {
				a.gotFirstByte()
				switch {
				case errors.Is(err, io.EOF):
					return badGateway(fmt.Sprintf("provider %q ended the stream before sending any event", a.p.Name))
				case a.r.Context().Err() != nil || a.ctx.Err() != nil:
					return a.failure(err)
				}
				return badGateway(fmt.Sprintf("provider %q broke off the stream before its first event: %s", a.p.Name, streamCause(err)))
			}
			var e error
			switch {
			case a.r.Context().Err() != nil:
				return errClientGone
			case errors.Is(err, io.EOF) && st.Done():
				return nil
			case errors.Is(err, io.EOF):
				e = badGateway(fmt.Sprintf("provider %q ended the stream without message_stop; the answer is incomplete", a.p.Name))
			case a.ctx.Err() != nil:
				e = a.failure(err)
			default:
				e = badGateway(fmt.Sprintf("provider %q broke off the stream: %s; the answer is incomplete", a.p.Name, streamCause(err)))
			}
			out = a.streamError(out[:0], toError(e))
			x.Write(out)
			http.NewResponseController(x).Flush()
			return nil
		}
		out, err = st.Event(out[:0], ev.Name, ev.Data)
		x.usage, x.hasUsage = openaiUsage(st.Usage()), true
		if err != nil {
			if !committed {
				return badGateway(fmt.Sprintf("provider %q sent a stream event that is not a valid Messages event (%v)", a.p.Name, err))
			}
			out = a.streamError(out[:0], badGateway(fmt.Sprintf("provider %q sent a stream event that is not a valid Messages event (%v); the stream was ended", a.p.Name, err)))
			x.Write(out)
			http.NewResponseController(x).Flush()
			return nil
		}
		if len(out) == 0 {
			continue // ping, or an event with nothing to say yet
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
		if err := http.NewResponseController(x).Flush(); err != nil {
			return errClientGone
		}
		if st.Done() {
			return nil
		}
		if string(ev.Name) == "error" { // passed on in-band by the translator; the stream is over
			x.errClass = "upstream_stream_error"
			return nil
		}
	}
}

func openaiUsage(u anthropic.Usage) openai.Usage {
	return openai.Usage{
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens:  u.PromptTokens + u.CompletionTokens,
		CachedTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens,
	}
}

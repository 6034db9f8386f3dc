package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// maxUpstreamBody bounds a non-streamed upstream answer. It is far above any
// real completion or embeddings answer; past it the upstream is misbehaving.
const maxUpstreamBody = 64 << 20

// firstByteReader stops the first-byte timer when the first body byte arrives.
type firstByteReader struct {
	r io.Reader
	a *attempt
}

func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && f.a != nil {
		f.a.gotFirstByte()
		f.a = nil
	}
	return n, err
}

// relayBody relays a non-streamed answer: it is read whole (it must be checked
// before the client sees a 200), validated as JSON, its usage read, and then
// written out unchanged.
func (a *attempt) relayBody(resp *http.Response) error {
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
		return a.upstreamError(resp, ct, body)
	}
	if !isMediaType(ct, "application/json") {
		return badGateway(fmt.Sprintf("provider %q answered with content-type %q instead of JSON; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	info, err := openai.ScanResponse(body)
	if err != nil {
		return badGateway(fmt.Sprintf("provider %q sent a response that is not valid JSON (%v); it was cut off or is not the API", a.p.Name, err))
	}
	a.x.usage, a.x.hasUsage = info.Usage, info.HasUsage
	h := a.x.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	a.x.WriteHeader(resp.StatusCode)
	if _, err := a.x.Write(body); err != nil {
		return errClientGone
	}
	return nil
}

// upstreamError passes on an upstream error status in the OpenAI error shape,
// keeping the provider's message and saying which provider it came from. A
// body that is not an API error (an HTML page from a proxy in front of the
// provider, say) is a 502, except that 429 and 504 keep their meaning.
func (a *attempt) upstreamError(resp *http.Response, ct string, body []byte) error {
	status := resp.StatusCode
	ra := resp.Header.Get("Retry-After")
	if isMediaType(ct, "application/json") {
		if e, ok := openai.ParseError(body); ok {
			if status < 400 {
				status = http.StatusBadGateway
			}
			typ, code := e.Type, e.Code
			if typ == "" {
				typ = "upstream_error"
			}
			if isDigits(code) { // Azure puts the HTTP status there ("429"): say what it means
				code = statusCode(status)
			}
			return &Error{Status: status, Type: typ, Code: code, Param: e.Param, RetryAfter: ra,
				Message: fmt.Sprintf("provider %q: %s", a.p.Name, e.Message),
				class:   classify(status, e), hint: retryHint(resp.Header)}
		}
	}
	switch status {
	case http.StatusTooManyRequests:
		return &Error{Status: status, Type: "rate_limit_error", Code: "rate_limit_exceeded", RetryAfter: ra,
			Message: fmt.Sprintf("provider %q is rate limiting the gateway; retry later", a.p.Name),
			class:   classRateLimit, hint: retryHint(resp.Header)}
	case http.StatusGatewayTimeout:
		return gatewayTimeout(fmt.Sprintf("provider %q timed out (HTTP 504 from upstream)", a.p.Name))
	}
	if ct == "" {
		ct = "no content type"
	}
	return badGateway(fmt.Sprintf("provider %q answered HTTP %d with %s, not an API error; the provider or a proxy in front of it is failing", a.p.Name, status, ct))
}

// classify sorts an upstream API error into a failure class.
func classify(status int, e openai.APIError) string {
	switch {
	case status == http.StatusTooManyRequests && e.Code == "insufficient_quota":
		return classQuota
	case status == http.StatusTooManyRequests:
		return classRateLimit
	case status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout:
		return classTimeout
	case status >= 500:
		return classServerError
	case e.Code == "context_length_exceeded" || strings.Contains(e.Message, "maximum context length"):
		return classContextWindow
	case e.Code == "content_filter" || e.Code == "content_policy_violation":
		return classContentPolicy
	}
	return classClient
}

// retryHint reads how long the upstream asks us to wait, in one form for
// every provider: retry-after (seconds or an HTTP date), else OpenAI's and
// Groq's x-ratelimit-reset-* duration for the exhausted limit ("6m0s",
// "172.799999ms"), else Anthropic's anthropic-ratelimit-*-reset timestamp.
// Gemini's RetryInfo delay (in the body) arrives through its error
// translator.
func retryHint(h http.Header) time.Duration {
	if ra := h.Get("Retry-After"); ra != "" {
		if n, err := strconv.ParseFloat(ra, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(time.Second))
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(time.Until(t), 0)
		}
	}
	for _, kind := range [...]string{"tokens", "requests"} {
		if h.Get("X-Ratelimit-Remaining-"+kind) == "0" {
			if d, err := time.ParseDuration(h.Get("X-Ratelimit-Reset-" + kind)); err == nil {
				return d
			}
		}
	}
	// Anthropic: RFC 3339 reset times per exhausted limit.
	for _, kind := range [...]string{"requests", "tokens", "input-tokens", "output-tokens"} {
		if h.Get("Anthropic-Ratelimit-"+kind+"-Remaining") == "0" {
			if t, err := time.Parse(time.RFC3339, h.Get("Anthropic-Ratelimit-"+kind+"-Reset")); err == nil {
				return max(time.Until(t), 0)
			}
		}
	}
	return 0
}

// readerPool keeps SSE readers (each with its read buffer) across streams.
var readerPool = sync.Pool{New: func() any { return sse.NewReader(nil) }}

var doneData = []byte("[DONE]")

// relayStream relays an SSE answer event by event, flushing each one
// (DESIGN.md §5). Nothing is written until the first event has arrived, so an
// attempt that fails before it can still be reported with a proper status
// (and, later, retried or sent to a fallback). After the first byte the
// stream can only end in-band: with a final data: {"error":...} event.
// The final usage chunk, which the gateway always asks for, is passed on only
// if the client asked for it.
func (a *attempt) relayStream(resp *http.Response, clientUsage bool) error {
	x := a.x
	ct := resp.Header.Get("Content-Type")
	if !isMediaType(ct, "text/event-stream") {
		buf := getBuf()
		defer putBuf(buf)
		body, _ := readAll(resp.Body, 64<<10, (*buf)[:0])
		*buf = body
		a.gotFirstByte()
		return badGateway(fmt.Sprintf("provider %q answered a streaming request with content-type %q instead of text/event-stream; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	rd := readerPool.Get().(*sse.Reader)
	rd.Reset(&firstByteReader{r: resp.Body, a: a})
	defer func() { rd.Reset(nil); readerPool.Put(rd) }()

	ev, err := rd.Next()
	if err != nil {
		a.gotFirstByte()
		if errors.Is(err, io.EOF) {
			return badGateway(fmt.Sprintf("provider %q ended the stream before sending any event", a.p.Name))
		}
		if a.r.Context().Err() != nil || a.ctx.Err() != nil {
			return a.failure(err)
		}
		return badGateway(fmt.Sprintf("provider %q broke off the stream before its first event: %s", a.p.Name, streamCause(err)))
	}

	h := x.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell nginx in front of us not to buffer
	x.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(x)

	buf := getBuf()
	defer putBuf(buf)
	out := (*buf)[:0]
	done, upstreamFailed := false, false
	for {
		skip := false
		if bytes.Equal(ev.Data, doneData) {
			done = true
		} else if ev.Data != nil {
			c, err := openai.ScanChunk(ev.Data)
			if err != nil {
				out = a.streamError(out[:0], badGateway(fmt.Sprintf("provider %q sent a stream event that is not valid JSON (%v); the stream was ended", a.p.Name, err)))
				x.Write(out)
				rc.Flush()
				*buf = out
				return nil
			}
			if c.HasUsage {
				x.usage, x.hasUsage = c.Usage, true
				skip = c.NoChoices && !clientUsage
			}
			upstreamFailed = upstreamFailed || c.IsError
		}
		if !skip {
			out = sse.AppendEvent(out[:0], ev.Name, ev.Data)
			if _, err := x.Write(out); err != nil {
				*buf = out
				return errClientGone
			}
			if err := rc.Flush(); err != nil {
				*buf = out
				return errClientGone
			}
		}
		ev, err = rd.Next()
		if err == nil {
			continue
		}
		*buf = out
		switch {
		case a.r.Context().Err() != nil:
			return errClientGone
		case errors.Is(err, io.EOF) && (done || upstreamFailed):
			if upstreamFailed {
				x.errClass = "upstream_stream_error"
			}
			return nil
		case errors.Is(err, io.EOF):
			err = badGateway(fmt.Sprintf("provider %q ended the stream without [DONE]; the answer is incomplete", a.p.Name))
		case a.ctx.Err() != nil:
			err = a.failure(err)
		default:
			err = badGateway(fmt.Sprintf("provider %q broke off the stream: %s; the answer is incomplete", a.p.Name, streamCause(err)))
		}
		out = a.streamError(out[:0], toError(err))
		*buf = out
		x.Write(out)
		rc.Flush()
		return nil
	}
}

// streamError formats the in-band error that ends a broken stream, in the
// client's dialect (Anthropic: event: error).
func (a *attempt) streamError(dst []byte, e *Error) []byte {
	a.x.errClass = e.Code
	if a.x.anthropic {
		dst = append(dst, "event: error\ndata: "...)
		dst = appendAnthropicError(dst, e, a.x.rt.scrub(e.Message), a.x.id)
		return append(dst, "\n\n"...)
	}
	return appendStreamError(dst, e, a.x.rt.scrub(e.Message), a.x.id)
}

// isMediaType reports whether a Content-Type header names media type want,
// ignoring parameters such as charset.
func isMediaType(ct, want string) bool {
	if len(ct) < len(want) || !strings.EqualFold(ct[:len(want)], want) {
		return false
	}
	if len(ct) == len(want) {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == want
}

// transportCause describes a transport error without its URL (which could
// carry a secret for some providers) and without Go's "Post ...:" framing.
func transportCause(err error) string {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		if oe.Err != nil {
			return oe.Op + ": " + oe.Err.Error()
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "connection closed before the response was complete"
	}
	return err.Error()
}

func streamCause(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed in the middle of an event"
	}
	return transportCause(err)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// statusCode is the error code the gateway uses for an upstream status when
// the upstream gave none that means anything.
func statusCode(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case status == http.StatusUnauthorized:
		return "invalid_api_key"
	case status == http.StatusNotFound:
		return "not_found"
	case status >= 500:
		return "upstream_server_error"
	}
	return "upstream_error"
}

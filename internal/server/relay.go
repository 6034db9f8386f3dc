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

// relayBody relays a non-streamed same-dialect answer: it is read whole (it
// must be checked before the client sees a 200), validated as JSON, its
// usage read, and then written out unchanged.
func (a *attempt) relayBody(resp *http.Response) error {
	return a.relayTranslatedBody(resp, func(b []byte) ([]byte, openai.Usage, error) {
		info, err := openai.ScanResponse(b)
		return b, info.Usage, err
	}, a.upstreamError)
}

// relayTranslatedBody reads a non-streamed answer whole (it must be checked
// before the client sees a 200), checks it is JSON, translates it (or, on
// the same-dialect path, only reads its usage) and writes it; upErr maps an
// upstream error answer.
func (a *attempt) relayTranslatedBody(resp *http.Response, translate func([]byte) ([]byte, openai.Usage, error), upErr func(*http.Response, string, []byte) error) error {
	buf := getBuf()
	defer putBuf(buf)
	body, err := a.readUpstream(resp, buf)
	if err != nil {
		return err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 != 2 {
		return upErr(resp, ct, body)
	}
	if !isMediaType(ct, "application/json") {
		return badGateway(fmt.Sprintf("provider %q answered with content-type %q instead of JSON; that is not the API (check the provider's base_url)", a.p.Name, ct))
	}
	out, u, err := translate(body)
	if err != nil {
		return badGateway(fmt.Sprintf("provider %q sent a response that is not valid JSON or not the expected answer (%v); it was cut off or is not the API", a.p.Name, err))
	}
	a.x.usage, a.x.hasUsage = u, true
	return a.writeBody(ct, out)
}

// readUpstream reads a non-streamed upstream body whole into buf.
func (a *attempt) readUpstream(resp *http.Response, buf *[]byte) ([]byte, error) {
	dst := (*buf)[:0]
	if n := resp.ContentLength; n > 0 && n < maxUpstreamBody && int64(cap(dst)) <= n {
		dst = make([]byte, 0, n+1) // sized once, as readBody does
	}
	body, err := readAll(&firstByteReader{r: resp.Body, a: a}, maxUpstreamBody, dst)
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

// relayStream relays an OpenAI-dialect SSE answer to an OpenAI client
// (DESIGN.md §5, through relayChunks): events pass as they are, the usage is
// read from each chunk on the way, and the final usage chunk, which the
// gateway always asks for, is passed on only if the client asked for it.
func (a *attempt) relayStream(resp *http.Response, clientUsage bool) error {
	return a.relaySSE(resp, &openaiConv{x: a.x, clientUsage: clientUsage})
}

// openaiConv is the same-dialect stream converter.
type openaiConv struct {
	x              *exchange
	clientUsage    bool
	done, sawError bool
}

func (c *openaiConv) event(dst []byte, ev sse.Event) ([]byte, error) {
	if bytes.Equal(ev.Data, doneData) {
		c.done = true
	} else if ev.Data != nil {
		ch, err := openai.ScanChunk(ev.Data)
		if err != nil {
			return dst, &protocolError{fmt.Errorf("an event that is not valid JSON: %w", err)}
		}
		if ch.HasUsage {
			c.x.usage, c.x.hasUsage = ch.Usage, true
			if ch.NoChoices && !c.clientUsage {
				return dst, nil // the usage-only chunk the client did not ask for
			}
		}
		c.sawError = ch.IsError
	}
	return sse.AppendEvent(dst, ev.Name, ev.Data), nil
}

func (c *openaiConv) end(dst []byte) []byte { return dst }
func (c *openaiConv) complete() bool        { return c.done }
func (c *openaiConv) failed() bool          { return c.sawError }

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

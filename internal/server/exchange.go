package server

import (
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/privacy"
	"github.com/switchboard-gw/switchboard/internal/telemetry"
	"github.com/switchboard-gw/switchboard/internal/tracing"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
	"go.opentelemetry.io/otel/trace"
)

// exchange is one request's state: the response writer the handler writes
// through (it records status and whether anything was written) and what the
// finish hop needs (DESIGN.md: receive → ... → finish).
type exchange struct {
	w  http.ResponseWriter
	r  *http.Request
	rt *runtime // the config generation this request runs on, fixed at arrival
	id string

	start       time.Time
	status      int
	wroteHeader bool
	bytes       int64

	key       string     // caller's name (key, JWT subject, certificate), "" in open mode
	principal *principal // who is calling, nil for admin and open mode
	api       bool       // an API call that authenticated: it gets a usage record
	user      string     // the end user, for limits and usage
	admitted  *admission // what the limit hop took, nil when nothing
	cacheHit  bool
	template  string  // name@version of the prompt template the request ran, "" for none
	cacheKey  string  // the response cache key of a miss to store, "" otherwise
	saved     float64 // USD a cache hit saved

	privacy    privacy.Policy
	promptHash string
	promptText string // only when privacy.Raw
	model      string // model the client asked for
	provider   string // provider that answered
	upstream   string // upstream model
	attempts   int
	usage      openai.Usage
	hasUsage   bool
	ttfb       time.Duration // time to first byte written to the client
	errClass   string
	streaming  bool

	// anthropic: the client speaks Anthropic Messages (/v1/messages), so
	// errors are written in its shape.
	anthropic bool
	// jsonTool names the forced tool that carries a JSON-mode answer for
	// providers without a JSON mode (see chat.JSONToolName), "" otherwise.
	jsonTool string

	span trace.Span // the request's server span; nil when tracing is off
	cost float64    // USD, set by settle

	upstreamTime time.Duration // spent in upstream attempts
	heldBytes    int64         // request body bytes counted in Server.inFlightBytes
	refused      string        // "rate_limit" or "budget" when the limit hop said no
	modelLabel   string        // the configured model serving the request (a bounded metric label), "" when none

	policy     *compiledPolicy // the policy applied, nil when none
	hold       bool            // keep the answer back for post hooks / answer redaction
	held       []byte
	heldStatus int
	redact     *streamRedactor // redacts a streamed answer as it passes

	capture  bool    // keep a copy of the body written (idempotency, cache, prompt hashes)
	capBuf   *[]byte // the pooled buffer behind captured
	captured []byte
}

func (x *exchange) Header() http.Header { return x.w.Header() }

func (x *exchange) WriteHeader(code int) {
	if x.wroteHeader {
		return
	}
	x.wroteHeader = true
	x.status = code
	if x.hold {
		x.heldStatus = code
		return
	}
	x.w.WriteHeader(code)
}

func (x *exchange) Write(p []byte) (int, error) {
	if !x.wroteHeader {
		x.WriteHeader(http.StatusOK)
	}
	if x.hold {
		x.held = append(x.held, p...)
		return len(p), nil
	}
	if x.redact != nil {
		in := len(p)
		if p = x.redact.filter(p); len(p) == 0 {
			return in, nil
		}
		if _, err := x.write(p); err != nil {
			return 0, err
		}
		return in, nil
	}
	return x.write(p)
}

func (x *exchange) write(p []byte) (int, error) {
	if x.bytes == 0 && len(p) > 0 {
		x.ttfb = time.Since(x.start)
	}
	n, err := x.w.Write(p)
	x.bytes += int64(n)
	if x.capture {
		x.captured = append(x.captured, p[:n]...)
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (x *exchange) Unwrap() http.ResponseWriter { return x.w }

// handlerFunc is a handler that returns its error for one renderer to write.
type handlerFunc func(x *exchange, r *http.Request) error

// handle wraps h with the middleware every endpoint shares: request id,
// panic recovery, error rendering and the request log line.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{w: w, r: r, rt: s.rt.Load(), start: time.Now()}
		x.id = requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", x.id)
		s.metrics.InFlight(1)
		if s.tracer.Enabled() {
			ctx, span := s.tracer.StartRequest(r.Context(), r, x.id)
			r = r.WithContext(ctx)
			x.r, x.span = r, span
		}
		defer s.finish(x)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic", slog.String("request_id", x.id), slog.Any("panic", v))
				if !x.wroteHeader {
					s.writeError(x, errors.New("panic"))
				}
			}
		}()
		if err := h(x, r); err != nil {
			switch {
			case errors.Is(err, errClientGone) || (r.Context().Err() != nil && !x.wroteHeader):
				x.status = statusClientClosed
			case x.wroteHeader:
				// Too late to render: a stream reports its own failure in-band.
			default:
				s.writeError(x, err)
			}
		}
	})
}

// finish is the last hop: limits given back, cost charged, the usage record
// queued, and the request log line.
func (s *Server) finish(x *exchange) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	if x.api {
		s.settle(x)
	}
	s.metrics.InFlight(-1)
	if x.heldBytes > 0 {
		s.inFlightBytes.Add(-x.heldBytes)
	}
	if strings.HasPrefix(x.r.URL.Path, "/v1/") {
		s.metrics.ObserveRequest(telemetry.Request{Endpoint: x.r.Pattern, Model: x.metricModel(), Provider: x.provider,
			Team: x.principal.teamName(), Status: x.status, ErrorClass: metricClass(x), Stream: x.streaming,
			Latency: time.Since(x.start), Upstream: x.upstreamTime, TTFT: x.ttfb, InputTokens: x.usage.PromptTokens,
			OutputTokens: x.usage.CompletionTokens, CachedTokens: x.usage.CachedTokens, CostUSD: x.cost,
			Attempts: x.attempts, CacheHit: x.cacheHit, Refused: x.refused})
	}
	if x.capBuf != nil {
		*x.capBuf = x.captured
		putBuf(x.capBuf)
		x.capBuf, x.captured = nil, nil
	}
	if x.span != nil {
		tracing.EndRequest(x.span, tracing.RequestEnd{Status: x.status, ErrorClass: x.errClass, KeyName: x.key,
			Team: x.principal.teamName(), Model: x.model, InputTokens: x.usage.PromptTokens,
			OutputTokens: x.usage.CompletionTokens, CostUSD: x.cost})
	}
	if s.reqLog != nil {
		s.logRequestLine(x)
		return
	}
	var buf [13]slog.Attr
	attrs := append(buf[:0],
		slog.String("request_id", x.id),
		slog.String("method", x.r.Method),
		slog.String("path", x.r.URL.Path),
		slog.Int("status", x.status),
		slog.Duration("latency", time.Since(x.start)),
	)
	if x.model != "" {
		attrs = append(attrs,
			slog.String("key", x.key),
			slog.String("model", x.model),
			slog.String("provider", x.provider),
			slog.String("upstream_model", x.upstream),
			slog.Int64("prompt_tokens", x.usage.PromptTokens),
			slog.Int64("completion_tokens", x.usage.CompletionTokens),
		)
		if x.streaming {
			attrs = append(attrs, slog.Duration("ttfb", x.ttfb))
		}
	}
	if x.errClass != "" {
		attrs = append(attrs, slog.String("error", x.errClass))
	}
	// The request's context may be cancelled by now; slog only passes it to
	// the handler, which does not care.
	s.log.LogAttrs(x.r.Context(), slog.LevelInfo, "request", attrs...)
}

// logRequestLine writes the same line as finish's slog call (same keys, in
// the same order) through the LineWriter.
func (s *Server) logRequestLine(x *exchange) {
	if !s.log.Enabled(x.r.Context(), slog.LevelInfo) {
		return
	}
	l := s.reqLog.Begin(time.Now(), "request")
	l.Str("request_id", x.id).Str("method", x.r.Method).Str("path", x.r.URL.Path).
		Int("status", int64(x.status)).Dur("latency", time.Since(x.start))
	if x.model != "" {
		l.Str("key", x.key).Str("model", x.model).Str("provider", x.provider).Str("upstream_model", x.upstream).
			Int("prompt_tokens", x.usage.PromptTokens).Int("completion_tokens", x.usage.CompletionTokens)
		if x.streaming {
			l.Dur("ttfb", x.ttfb)
		}
	}
	if x.errClass != "" {
		l.Str("error", x.errClass)
	}
	_ = s.reqLog.End(l)
}

// requestID honours a sane incoming x-request-id (1–128 characters of
// [A-Za-z0-9._:-]) so a client's id follows the request through the gateway,
// and otherwise makes a new one.
func requestID(in string) string {
	if saneID(in) {
		return in
	}
	// The time in milliseconds first, then 80 random bits (like UUIDv7):
	// ids sort by time, and the usage store's primary key grows at its end
	// instead of taking inserts all over its B-tree (4x cheaper on SQLite).
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	u1, u2 := rand.Uint64(), rand.Uint64()
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	for i := range 8 {
		b[6+i] = byte(u1 >> (8 * i))
	}
	b[14], b[15] = byte(u2), byte(u2>>8)
	out := make([]byte, 4+32)
	copy(out, "req_")
	hex.Encode(out[4:], b[:])
	return string(out)
}

func saneID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// startCapture keeps a copy of what is written from now on, in a pooled
// buffer given back when the request finishes.
func (x *exchange) startCapture() {
	if x.capture {
		return
	}
	x.capture = true
	x.capBuf = getBuf()
	x.captured = (*x.capBuf)[:0]
}

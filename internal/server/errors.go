package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// Error is a failure the client is told about. Handlers return it (or any
// error; unknown errors become a 500 without detail) and writeError renders it
// in the dialect of the endpoint (DESIGN.md §4).
type Error struct {
	Status     int
	Type       string // OpenAI error type, e.g. invalid_request_error
	Code       string // machine-readable code, e.g. model_not_found; "" renders as null
	Param      string // the request field at fault; "" renders as null
	Message    string // what went wrong and what to change
	RetryAfter string // seconds, sent as retry-after on 429 and 503

	// class is the failure class routing acts on (see classify); hint is the
	// upstream's retry-after or rate-limit reset, when it gave one.
	class string
	hint  time.Duration
}

// Failure classes of upstream attempts. The first five are the values of a
// model's fallback_on; retryable ones may be retried on the same model.
const (
	classRateLimit     = "rate_limit"
	classServerError   = "server_error"
	classTimeout       = "timeout"
	classContextWindow = "context_window"
	classContentPolicy = "content_policy"
	classQuota         = "quota"  // insufficient_quota: never retried
	classClient        = "client" // the request itself is at fault
)

func retryable(class string) bool {
	return class == classRateLimit || class == classServerError || class == classTimeout
}

// unhealthy reports whether a class says the deployment itself is failing
// (it counts towards its circuit breaker).
func unhealthy(class string) bool { return class == classServerError || class == classTimeout }

func (e *Error) Error() string { return e.Message }

// errClientGone marks a request whose client disconnected: nothing is
// written, and it is logged as 499 (the nginx convention) rather than blamed on
// the upstream.
var errClientGone = errors.New("client closed the request")

const statusClientClosed = 499

// Error constructors for the classes of DESIGN.md §4.

func badRequest(param, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: msg}
}

func unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key", Message: msg}
}

func forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Type: "permission_error", Code: "model_not_allowed", Message: msg}
}

func notFound(code, msg string) *Error {
	return &Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: code, Message: msg}
}

func badGateway(msg string) *Error {
	return &Error{Status: http.StatusBadGateway, Type: "upstream_error", Code: "bad_upstream_response", Message: msg, class: classServerError}
}

func gatewayTimeout(msg string) *Error {
	return &Error{Status: http.StatusGatewayTimeout, Type: "timeout", Code: "upstream_timeout", Message: msg, class: classTimeout}
}

// toError maps any handler error to an *Error.
func toError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if e, ok := errors.AsType[*openai.ParamError](err); ok {
		return badRequest(e.Param, e.Msg)
	}
	if e, ok := errors.AsType[*openai.SyntaxError](err); ok {
		return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_json", Message: e.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Type: "api_error", Code: "internal_error",
		Message: "the gateway failed to handle this request; it has been logged under the request id"}
}

// writeError renders err as an OpenAI error body. It must only be called
// before any of the response has been written.
func (s *Server) writeError(x *exchange, err error) {
	e := toError(err)
	if e.Status == http.StatusInternalServerError && e.Code == "internal_error" {
		s.log.LogAttrs(x.r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", x.id), slog.String("error", x.rt.scrub(err.Error())))
	}
	x.errClass = e.Code
	if x.errClass == "" {
		x.errClass = e.Type
	}
	h := x.Header()
	h.Set("Content-Type", "application/json")
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		ra := e.RetryAfter
		if ra == "" {
			ra = "1"
		}
		h.Set("Retry-After", ra)
	}
	buf := getBuf()
	defer putBuf(buf)
	var b []byte
	if x.anthropic {
		b = appendAnthropicError((*buf)[:0], e, x.rt.scrub(e.Message), x.id)
	} else {
		b = appendErrorBody((*buf)[:0], e, x.rt.scrub(e.Message), x.id)
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	x.WriteHeader(e.Status)
	x.Write(b)
	*buf = b
}

// appendErrorBody is the OpenAI error envelope plus the request id, so a user
// can quote it when asking for help. The extra field is ignored by OpenAI
// clients.
func appendErrorBody(dst []byte, e *Error, msg, requestID string) []byte {
	dst = openai.AppendError(dst, openai.APIError{Message: msg, Type: e.Type, Param: e.Param, Code: e.Code})
	// Insert "request_id" inside the error object: the envelope ends in "}}".
	if n := len(dst); n >= 2 && dst[n-1] == '}' && dst[n-2] == '}' {
		dst = dst[:n-2]
		dst = append(dst, `,"request_id":`...)
		dst = strconv.AppendQuote(dst, requestID)
		dst = append(dst, "}}"...)
	}
	return dst
}

// appendStreamError is the final event of a stream that fails after its first
// byte (DESIGN.md §5): data: {"error":{...}}.
func appendStreamError(dst []byte, e *Error, msg, requestID string) []byte {
	dst = append(dst, "data: "...)
	dst = appendErrorBody(dst, e, msg, requestID)
	return append(dst, "\n\n"...)
}

// anthropicErrorType is the Anthropic error type for a status.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusMethodNotAllowed:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	return "api_error"
}

// appendAnthropicError is Anthropic's error envelope, as on /v1/messages:
// {"type":"error","error":{"type","message"},"request_id"}.
func appendAnthropicError(dst []byte, e *Error, msg, requestID string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst, _ = jsontext.AppendQuote(dst, anthropicErrorType(e.Status))
	dst = append(dst, `,"message":`...)
	dst, _ = jsontext.AppendQuote(dst, msg)
	dst = append(dst, `},"request_id":`...)
	dst, _ = jsontext.AppendQuote(dst, requestID)
	return append(dst, '}')
}

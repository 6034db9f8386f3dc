package bedrock

import (
	"net/http"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// ParamError reports an OpenAI request field that ToConverse cannot honour
// for a Bedrock provider: an unknown or malformed parameter, or one with no
// Converse counterpart (n > 1, logprobs, audio, http image URLs, ...). The
// gateway answers it with a 400 invalid_request_error whose "param" is
// Param.
//
// It is the same type as openai.ParamError, so the gateway's one error
// renderer handles the scanner's and the translators' errors alike.
type ParamError = openai.ParamError

// dialect names Bedrock in the shared chat decoding's errors.
var dialect = chat.Dialect{Models: "Bedrock", API: "the Bedrock Converse API"}

// APIError is a Bedrock error translated to the OpenAI error fields, plus
// the HTTP status the gateway should answer with (DESIGN.md §4).
type APIError struct {
	// Status is the HTTP status for the client (see ParseError).
	Status int
	// Type is the OpenAI error "type".
	Type string
	// Code is the OpenAI error "code" ("rate_limit_exceeded",
	// "context_length_exceeded", ...) or "" (rendered as null).
	Code string
	// Message is Bedrock's message, unchanged.
	Message string
	// BedrockType is Bedrock's error type without its namespace suffix,
	// e.g. "ThrottlingException" (from x-amzn-ErrorType, "__type" or a
	// stream's :exception-type), "" when the answer named none.
	BedrockType string
}

// errorClass is one row of the Bedrock error table
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors).
type errorClass struct {
	bedrock   string // type name, compared case-insensitively
	status    int
	typ, code string
}

var errorClasses = []errorClass{
	{"ValidationException", 400, "invalid_request_error", ""},
	{"UnrecognizedClientException", 401, "authentication_error", "invalid_api_key"},
	{"InvalidSignatureException", 401, "authentication_error", "invalid_api_key"},
	{"ExpiredTokenException", 401, "authentication_error", "invalid_api_key"},
	{"AccessDeniedException", 403, "permission_error", ""},
	{"ResourceNotFoundException", 404, "invalid_request_error", "not_found"},
	{"ThrottlingException", 429, "rate_limit_error", "rate_limit_exceeded"},
	{"ServiceQuotaExceededException", 429, "insufficient_quota", "insufficient_quota"},
	{"InternalServerException", 500, "server_error", ""},
	{"ModelErrorException", 502, "server_error", "model_error"},
	{"ModelStreamErrorException", 502, "server_error", "model_error"},
	{"ServiceUnavailableException", 503, "server_error", "service_unavailable"},
	{"ModelNotReadyException", 503, "server_error", "service_unavailable"},
	{"ModelTimeoutException", 504, "server_error", "timeout"},
}

// statusClasses classify an answer by status when it names no type.
var statusClasses = map[int]errorClass{
	400: {status: 400, typ: "invalid_request_error"},
	401: {status: 401, typ: "authentication_error", code: "invalid_api_key"},
	403: {status: 403, typ: "permission_error"},
	404: {status: 404, typ: "invalid_request_error", code: "not_found"},
	408: {status: 504, typ: "server_error", code: "timeout"},
	424: {status: 502, typ: "server_error", code: "model_error"},
	429: {status: 429, typ: "rate_limit_error", code: "rate_limit_exceeded"},
	500: {status: 500, typ: "server_error"},
	503: {status: 503, typ: "server_error", code: "service_unavailable"},
}

// classify maps a Bedrock error type (any case, namespace stripped) and
// HTTP status to an APIError without message.
func classify(status int, typ string) APIError {
	e := APIError{BedrockType: typ}
	for _, c := range errorClasses {
		if typ != "" && strings.EqualFold(c.bedrock, typ) {
			e.Status, e.Type, e.Code = c.status, c.typ, c.code
			return e
		}
	}
	if c, ok := statusClasses[status]; ok {
		e.Status, e.Type, e.Code = c.status, c.typ, c.code
		return e
	}
	switch {
	case status >= 400 && status < 500:
		e.Status, e.Type = status, "invalid_request_error"
	case status >= 500 && status < 600, status == http.StatusOK:
		// status 200: an exception frame of unknown type inside a stream,
		// a server-side failure as far as the client can tell.
		e.Status, e.Type = 500, "server_error"
	default:
		e.Status, e.Type = http.StatusBadGateway, "upstream_error"
	}
	return e
}

// contextTooLong reports a ValidationException about the prompt's length,
// which OpenAI clients know as context_length_exceeded.
func contextTooLong(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "too long") || strings.Contains(m, "context") ||
		strings.Contains(m, "too many input tokens") || strings.Contains(m, "max_tokens")
}

// errorType strips the namespace Bedrock appends to x-amzn-ErrorType and
// __type: "ThrottlingException:http://internal.amazon.com/coral/…" and
// "com.amazon.coral.service#ThrottlingException" are both
// "ThrottlingException".
func errorType(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), ":")
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// ParseError reads a Bedrock error answer: HTTP status, headers and the
// body {"message":…} (also "Message", as some AWS front ends send). The
// error type is taken from the x-amzn-ErrorType header, else the body's
// "__type"; its namespace suffix is stripped. Types map to the status and
// OpenAI fields the gateway answers with:
//
//	Bedrock type                       status  OpenAI type            code
//	ValidationException                400     invalid_request_error  - (context_length_exceeded when
//	                                                                  the message says "too long",
//	                                                                  "context", "too many input
//	                                                                  tokens" or "max_tokens")
//	UnrecognizedClient, InvalidSignature, ExpiredToken
//	                                   401     authentication_error   invalid_api_key
//	AccessDeniedException              403     permission_error       -
//	ResourceNotFoundException          404     invalid_request_error  not_found
//	ThrottlingException                429     rate_limit_error       rate_limit_exceeded
//	ServiceQuotaExceededException      429     insufficient_quota     insufficient_quota (not retryable)
//	InternalServerException            500     server_error           -
//	ModelError, ModelStreamError       502     server_error           model_error
//	ServiceUnavailable, ModelNotReady  503     server_error           service_unavailable
//	ModelTimeoutException              504     server_error           timeout
//
// Without a known type the status decides (408 → 504 timeout, 424 → 502).
// ok is false when body is not a Bedrock error (not a JSON object with a
// message), e.g. an HTML page from a proxy; the caller then makes up a
// message from the status.
func ParseError(status int, header http.Header, body []byte) (APIError, bool) {
	var env struct {
		Message  *string `json:"message"`
		MessageC *string `json:"Message"`
		Type     string  `json:"__type"`
	}
	if err := json.Unmarshal(body, &env, json.MatchCaseInsensitiveNames(false)); err != nil {
		return APIError{}, false
	}
	msg := env.Message
	if msg == nil {
		msg = env.MessageC
	}
	if msg == nil {
		return APIError{}, false
	}
	typ := errorType(header.Get("X-Amzn-Errortype"))
	if typ == "" {
		typ = errorType(env.Type)
	}
	return newAPIError(status, typ, *msg), true
}

func newAPIError(status int, typ, msg string) APIError {
	e := classify(status, typ)
	e.Message = msg
	if e.Status == http.StatusBadRequest && contextTooLong(msg) {
		e.Code = "context_length_exceeded"
	}
	return e
}

// appendErrorEvent appends `data: {"error":{…}}\n\n`, the OpenAI shape of
// a mid-stream failure (DESIGN.md §5).
func appendErrorEvent(dst []byte, e APIError) []byte {
	dst = append(dst, "data: "...)
	dst = openai.AppendError(dst, openai.APIError{Message: e.Message, Type: e.Type, Code: e.Code})
	return append(dst, "\n\n"...)
}

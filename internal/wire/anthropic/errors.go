package anthropic

import (
	"net/http"

	"github.com/go-json-experiment/json"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// ParamError reports an OpenAI request field that ToMessages cannot
// honour for an Anthropic provider: an unknown or malformed parameter, or
// one with no Anthropic counterpart (n > 1, logprobs, audio, ...). The
// gateway answers it with a 400 invalid_request_error whose "param" is
// Param.
//
// It is the same type as openai.ParamError, so the gateway's one error
// renderer handles the scanner's and the translator's errors alike.
type ParamError = openai.ParamError

// dialect names Anthropic in the shared chat decoding's errors.
var dialect = chat.Dialect{Models: "Anthropic", API: "the Anthropic Messages API"}

// APIError is an Anthropic error translated to the OpenAI error fields,
// plus the HTTP status the gateway should answer with (DESIGN.md §4).
type APIError struct {
	// Status is the HTTP status for the client: Anthropic's own status
	// except 529 overloaded_error, which becomes 503.
	Status int
	// Type is the OpenAI error "type" (see ParseError for the table).
	Type string
	// Code is the OpenAI error "code": "rate_limit_exceeded",
	// "overloaded", "invalid_api_key", ... or "" (rendered as null).
	Code string
	// Message is Anthropic's message, unchanged.
	Message string
}

// errorClass is one row of the Anthropic error table
// (https://docs.anthropic.com/en/api/errors).
type errorClass struct {
	status     int
	typ, code  string
	anthropic  string
	anthStatus int
}

var errorClasses = []errorClass{
	{400, "invalid_request_error", "", "invalid_request_error", 400},
	{401, "authentication_error", "invalid_api_key", "authentication_error", 401},
	{403, "permission_error", "", "permission_error", 403},
	{404, "invalid_request_error", "not_found", "not_found_error", 404},
	{413, "invalid_request_error", "request_too_large", "request_too_large", 413},
	{429, "rate_limit_error", "rate_limit_exceeded", "rate_limit_error", 429},
	{500, "server_error", "", "api_error", 500},
	{504, "server_error", "timeout", "timeout_error", 504},
	{503, "server_error", "overloaded", "overloaded_error", 529},
}

// classify maps an Anthropic error type and HTTP status to the gateway's
// status and the OpenAI type and code. The type decides when it is known
// (an error event inside a 200 stream has no useful status); otherwise the
// status does, and an unknown type is kept as the OpenAI type.
func classify(status int, typ string) (int, string, string) {
	for _, c := range errorClasses {
		if c.anthropic == typ {
			return c.status, c.typ, c.code
		}
	}
	for _, c := range errorClasses {
		if c.anthStatus == status {
			if typ == "" {
				typ = c.typ
			}
			return c.status, typ, c.code
		}
	}
	if typ == "" {
		typ = "upstream_error"
	}
	switch {
	case status >= 400 && status < 600:
		return status, typ, ""
	case status == http.StatusOK:
		// An error event inside a stream of unknown type: a server-side
		// failure as far as the client can tell.
		return 500, typ, ""
	}
	// Not an HTTP error status at all: the upstream did not speak the API.
	return http.StatusBadGateway, typ, ""
}

// ParseError reads an Anthropic error body,
// {"type":"error","error":{"type":…,"message":…},"request_id":…}, received
// with HTTP status status, and maps it to OpenAI error fields and the
// status the gateway should return:
//
//	Anthropic type (status)      status  OpenAI type            code
//	invalid_request_error (400)  400     invalid_request_error  -
//	authentication_error (401)   401     authentication_error   invalid_api_key
//	permission_error (403)       403     permission_error       -
//	not_found_error (404)        404     invalid_request_error  not_found
//	request_too_large (413)      413     invalid_request_error  request_too_large
//	rate_limit_error (429)       429     rate_limit_error       rate_limit_exceeded
//	api_error (500)              500     server_error           -
//	timeout_error (504)          504     server_error           timeout
//	overloaded_error (529)       503     server_error           overloaded
//
// An unknown type is kept as the OpenAI type with the status of the table
// row for status, or status itself when it is a 4xx or 5xx. The message is
// Anthropic's, unchanged. ok is false when body is not an Anthropic error
// (not JSON, or no error object with a type or message), e.g. an HTML page
// from a proxy; the caller then makes a 502 from the status.
func ParseError(status int, body []byte) (out APIError, ok bool) {
	var env struct {
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		return APIError{}, false
	}
	if env.Error.Type == "" && env.Error.Message == "" {
		return APIError{}, false
	}
	out.Status, out.Type, out.Code = classify(status, env.Error.Type)
	out.Message = env.Error.Message
	return out, true
}

// appendErrorEvent appends `data: {"error":{…}}\n\n`, the OpenAI shape of
// a mid-stream failure (DESIGN.md §5).
func appendErrorEvent(dst []byte, e APIError) []byte {
	dst = append(dst, "data: "...)
	dst = openai.AppendError(dst, openai.APIError{Message: e.Message, Type: e.Type, Code: e.Code})
	return append(dst, "\n\n"...)
}

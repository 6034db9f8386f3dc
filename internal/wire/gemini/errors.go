package gemini

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// ParamError reports an OpenAI request field that ToGemini cannot honour
// for a Gemini provider: an unknown or malformed parameter, or one with no
// Gemini counterpart (n > 1, logprobs, audio output, ...). The gateway
// answers it with a 400 invalid_request_error whose "param" is Param.
//
// It is the same type as openai.ParamError, so the gateway's one error
// renderer handles the scanner's and the translators' errors alike.
type ParamError = openai.ParamError

// dialect names Gemini in the shared chat decoding's errors; Gemini
// translates input_audio and file parts, so they are type-checked.
var dialect = chat.Dialect{Models: "Gemini", API: "the Gemini API", MediaParts: true}

// APIError is a Gemini (or Vertex AI) error translated to the OpenAI error
// fields, plus the HTTP status the gateway should answer with (DESIGN.md
// §4) and the retry hint the body carried.
type APIError struct {
	// Status is the HTTP status for the client (see ParseError).
	Status int
	// Type is the OpenAI error "type".
	Type string
	// Code is the OpenAI error "code" ("rate_limit_exceeded",
	// "invalid_api_key", ...) or "" (rendered as null).
	Code string
	// Message is Google's message, unchanged.
	Message string
	// RetryAfter is google.rpc.RetryInfo.retryDelay ("34.4s") from the
	// error details; 0 when the body has none. Google sends no
	// Retry-After header, so this is the only rate-limit hint.
	RetryAfter time.Duration
}

// errorClass is one row of the google.rpc.Code table
// (https://ai.google.dev/gemini-api/docs/troubleshooting,
// https://cloud.google.com/apis/design/errors).
type errorClass struct {
	rpc       string
	rpcStatus int // the HTTP status Google sends with it
	status    int // the status the gateway answers
	typ, code string
}

var errorClasses = []errorClass{
	{"INVALID_ARGUMENT", 400, 400, "invalid_request_error", ""},
	{"FAILED_PRECONDITION", 400, 400, "invalid_request_error", "failed_precondition"},
	{"OUT_OF_RANGE", 400, 400, "invalid_request_error", ""},
	{"UNAUTHENTICATED", 401, 401, "authentication_error", "invalid_api_key"},
	{"PERMISSION_DENIED", 403, 403, "permission_error", ""},
	{"NOT_FOUND", 404, 404, "invalid_request_error", "not_found"},
	{"ALREADY_EXISTS", 409, 409, "invalid_request_error", ""},
	{"ABORTED", 409, 409, "server_error", ""},
	{"RESOURCE_EXHAUSTED", 429, 429, "rate_limit_error", "rate_limit_exceeded"},
	{"CANCELLED", 499, 500, "server_error", ""},
	{"INTERNAL", 500, 500, "server_error", ""},
	{"UNKNOWN", 500, 500, "server_error", ""},
	{"DATA_LOSS", 500, 500, "server_error", ""},
	{"NOT_IMPLEMENTED", 501, 501, "invalid_request_error", ""},
	{"UNIMPLEMENTED", 501, 501, "invalid_request_error", ""},
	{"UNAVAILABLE", 503, 503, "server_error", "overloaded"},
	{"DEADLINE_EXCEEDED", 504, 504, "server_error", "timeout"},
}

// classify maps a google.rpc status name and HTTP status to the gateway's
// status and the OpenAI type and code. The name decides when it is known;
// otherwise the HTTP status does.
func classify(status int, rpc string) (int, string, string) {
	for _, c := range errorClasses {
		if c.rpc == rpc {
			return c.status, c.typ, c.code
		}
	}
	for _, c := range errorClasses {
		if c.rpcStatus == status {
			return c.status, c.typ, c.code
		}
	}
	typ := strings.ToLower(rpc)
	if typ == "" {
		typ = "upstream_error"
	}
	switch {
	case status >= 400 && status < 600:
		return status, typ, ""
	case status == http.StatusOK:
		return 500, typ, "" // an error inside a 200 stream
	}
	return http.StatusBadGateway, typ, ""
}

// rpcStatus is google.rpc.Status as the JSON APIs render it.
type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Type       string `json:"@type"`
		Reason     string `json:"reason"`
		RetryDelay string `json:"retryDelay"`
	} `json:"details"`
}

// apiError maps a decoded status received with HTTP status httpStatus.
func (e *rpcStatus) apiError(httpStatus int) APIError {
	if httpStatus == 0 {
		httpStatus = e.Code
	}
	var out APIError
	out.Status, out.Type, out.Code = classify(httpStatus, e.Status)
	out.Message = e.Message
	for _, d := range e.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && d.Reason == "API_KEY_INVALID":
			// Google answers a bad key with 400 INVALID_ARGUMENT; to the
			// client it is a credentials problem.
			out.Status, out.Type, out.Code = http.StatusUnauthorized, "authentication_error", "invalid_api_key"
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo") && d.RetryDelay != "":
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				out.RetryAfter = dur
			}
		}
	}
	return out
}

// ParseError reads a Gemini or Vertex AI error body, google.rpc.Status in
// its JSON form {"error":{"code","message","status","details":[…]}},
// received with HTTP status status, and maps it:
//
//	Google status (HTTP)           status  OpenAI type            code
//	INVALID_ARGUMENT (400)         400     invalid_request_error  -
//	  with ErrorInfo API_KEY_INVALID 401   authentication_error   invalid_api_key
//	FAILED_PRECONDITION (400)      400     invalid_request_error  failed_precondition
//	UNAUTHENTICATED (401)          401     authentication_error   invalid_api_key
//	PERMISSION_DENIED (403)        403     permission_error       -
//	NOT_FOUND (404)                404     invalid_request_error  not_found
//	RESOURCE_EXHAUSTED (429)       429     rate_limit_error       rate_limit_exceeded
//	INTERNAL (500)                 500     server_error           -
//	UNAVAILABLE (503)              503     server_error           overloaded
//	DEADLINE_EXCEEDED (504)        504     server_error           timeout
//
// (CANCELLED becomes 500; OUT_OF_RANGE 400; unknown names take the row of
// the HTTP status, or the status itself when it is a 4xx or 5xx.)
// RetryAfter is the RetryInfo detail's retryDelay. A body wrapped in a
// one-element array, as streamGenerateContent without alt=sse sends it, is
// accepted. ok is false when body is not such an error (not JSON, no error
// object with a status or message), e.g. an HTML page from a proxy.
func ParseError(status int, body []byte) (out APIError, ok bool) {
	body = bytes.TrimSpace(body)
	var env struct {
		Error *rpcStatus `json:"error"`
	}
	var err error
	if len(body) > 0 && body[0] == '[' {
		var arr []struct {
			Error *rpcStatus `json:"error"`
		}
		if err = json.Unmarshal(body, &arr); err == nil && len(arr) > 0 {
			env.Error = arr[0].Error
		}
	} else {
		err = json.Unmarshal(body, &env)
	}
	if err != nil || env.Error == nil || (env.Error.Status == "" && env.Error.Message == "") {
		return APIError{}, false
	}
	return env.Error.apiError(status), true
}

// appendErrorEvent appends `data: {"error":{…}}\n\n`, the OpenAI shape of
// a mid-stream failure (DESIGN.md §5).
func appendErrorEvent(dst []byte, e APIError) []byte {
	dst = append(dst, "data: "...)
	dst = openai.AppendError(dst, openai.APIError{Message: e.Message, Type: e.Type, Code: e.Code})
	return append(dst, "\n\n"...)
}

package openai

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// SyntaxError reports a request body that is not valid JSON, contains a
// duplicate object member name, or is not a JSON object at the top level.
// The gateway answers it with a 400 invalid_request_error.
type SyntaxError struct {
	// Offset is the byte offset in the body at or after which the error
	// was found.
	Offset int64
	// Msg is the user-facing message; it says where and what to do, e.g.
	// `invalid JSON at byte 17: unexpected EOF; send the request body as
	// one well-formed JSON object`.
	Msg string

	err error // the jsontext error, for errors.Is/As
}

// Error returns e.Msg.
func (e *SyntaxError) Error() string { return e.Msg }

// Unwrap returns the underlying jsontext error, if any, so that for
// example errors.Is(err, jsontext.ErrDuplicateName) reports a duplicate key.
func (e *SyntaxError) Unwrap() error { return e.err }

// ParamError reports a top-level parameter that is unknown, missing, or
// has the wrong type or value. The gateway answers it with a 400
// invalid_request_error whose "param" is Param.
type ParamError struct {
	// Param names the offending parameter: "temperature", "foo", or a path
	// such as "messages[2].role" or "stream_options.include_usage".
	Param string
	// Msg is the user-facing message, e.g. `unknown parameter "foo"`,
	// `"temperature" must be a number, got string`, `"messages" is
	// required`.
	Msg string
}

// Error returns e.Msg.
func (e *ParamError) Error() string { return e.Msg }

const syntaxHint = "; send the request body as one well-formed JSON object"

// syntaxError converts a decoder error into a *SyntaxError.
func syntaxError(err error, body []byte) error {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		// io.EOF from an empty body, or io.ErrUnexpectedEOF.
		off := int64(len(body))
		msg := "unexpected end of input"
		if len(strings.TrimSpace(string(body))) == 0 {
			msg = "the request body is empty"
		}
		return &SyntaxError{Offset: off, Msg: fmt.Sprintf("invalid JSON at byte %d: %s%s", off, msg, syntaxHint), err: err}
	}
	var msg string
	switch {
	case errors.Is(se.Err, jsontext.ErrDuplicateName):
		msg = fmt.Sprintf("duplicate key %q", se.JSONPointer.LastToken())
		if p := se.JSONPointer.Parent(); p != "" {
			msg += fmt.Sprintf(" in %s", p)
		}
	default:
		msg = se.Err.Error()
		if se.JSONPointer != "" {
			msg += fmt.Sprintf(" (in %s)", se.JSONPointer)
		}
	}
	return &SyntaxError{Offset: se.ByteOffset, Msg: fmt.Sprintf("invalid JSON at byte %d: %s%s", se.ByteOffset, msg, syntaxHint), err: err}
}

func notObjectError(k jsontext.Kind) error {
	return &SyntaxError{Offset: 0, Msg: fmt.Sprintf("the request body must be a JSON object, got %s", kindName(k))}
}

func unknownParam(name []byte) error {
	return &ParamError{Param: string(name), Msg: fmt.Sprintf("unknown parameter %q", name)}
}

func requiredParam(name string) error {
	return &ParamError{Param: name, Msg: fmt.Sprintf("%q is required", name)}
}

func typeError(param string, want string, got jsontext.Kind) error {
	return &ParamError{Param: param, Msg: fmt.Sprintf("%q must be %s, got %s", param, want, kindName(got))}
}

package openai

import (
	"github.com/go-json-experiment/json/jsontext"
)

// APIError is an OpenAI-shaped error: the members of
// {"error":{"message","type","param","code"}}. Empty fields were absent or
// null.
type APIError struct {
	Message string
	Type    string
	Param   string
	// Code is the error code as a string: upstreams send a string
	// ("rate_limit_exceeded"), a number (400; kept as its JSON text "400")
	// or null ("").
	Code string
}

// ParseError reads an upstream error body. It accepts, in order of
// preference:
//
//   - OpenAI's {"error":{"message","type","param","code"}} (also Azure's,
//     whose extra members such as innererror are ignored, and Gemini's
//     google.rpc.Status, whose string "status" fills Type when there is no
//     "type");
//   - {"error":"text"}, as Ollama and some OpenAI-compatible servers send;
//   - {"message":"text", ...} with optional top-level "type", "param" and
//     "code", as vLLM and Bedrock send.
//
// ok is false when body is not valid JSON or none of these shapes, e.g. an
// HTML error page; the caller then makes up a message from the status.
func ParseError(body []byte) (e APIError, ok bool) {
	d := getDecoder(body)
	defer putDecoder(d)
	var top APIError
	var haveError, haveTopMessage bool
	if d.beginObject() != nil {
		return APIError{}, false
	}
	for {
		end, err := d.endObject()
		if err != nil {
			return APIError{}, false
		}
		if end {
			break
		}
		name, err := d.name()
		if err != nil {
			return APIError{}, false
		}
		switch string(name) {
		case "error":
			switch d.dec.PeekKind() {
			case jsontext.KindBeginObject:
				if e, err = readErrorObject(d); err != nil {
					return APIError{}, false
				}
				haveError = true
				continue
			case jsontext.KindString:
				v, err := d.dec.ReadValue()
				if err != nil {
					return APIError{}, false
				}
				e = APIError{Message: string(d.unquote(v))}
				haveError = true
				continue
			}
		case "message":
			if d.dec.PeekKind() == jsontext.KindString {
				haveTopMessage = true
			}
			fallthrough
		case "type", "param", "code":
			s, err := readText(d)
			if err != nil {
				return APIError{}, false
			}
			setField(&top, name, s)
			continue
		}
		if d.dec.SkipValue() != nil {
			return APIError{}, false
		}
	}
	if d.finish(body) != nil {
		return APIError{}, false
	}
	switch {
	case haveError:
		return e, true
	case haveTopMessage:
		return top, true
	}
	return APIError{}, false
}

func setField(e *APIError, name []byte, s string) {
	switch string(name) {
	case "message":
		e.Message = s
	case "type":
		e.Type = s
	case "param":
		e.Param = s
	case "code":
		e.Code = s
	}
}

// readErrorObject reads the object value of "error".
func readErrorObject(d *decoder) (APIError, error) {
	var e APIError
	var status string
	if _, err := d.dec.ReadToken(); err != nil {
		return e, err
	}
	for {
		end, err := d.endObject()
		if err != nil {
			return e, err
		}
		if end {
			break
		}
		name, err := d.name()
		if err != nil {
			return e, err
		}
		switch string(name) {
		case "message", "type", "param", "code":
			s, err := readText(d)
			if err != nil {
				return e, err
			}
			setField(&e, name, s)
		case "status":
			// Gemini's google.rpc.Status names the class here; Azure puts
			// the HTTP status number here, which is not a type.
			if d.dec.PeekKind() != jsontext.KindString {
				if err := d.dec.SkipValue(); err != nil {
					return e, err
				}
				continue
			}
			if status, err = readText(d); err != nil {
				return e, err
			}
		default:
			if err := d.dec.SkipValue(); err != nil {
				return e, err
			}
		}
	}
	if e.Type == "" {
		e.Type = status
	}
	return e, nil
}

// readText reads a string (unquoted), a number or boolean (as its JSON
// text) or null (""); objects and arrays are skipped and read as "".
func readText(d *decoder) (string, error) {
	switch d.dec.PeekKind() {
	case jsontext.KindString:
		v, err := d.dec.ReadValue()
		if err != nil {
			return "", err
		}
		return string(d.unquote(v)), nil
	case jsontext.KindNumber, jsontext.KindTrue, jsontext.KindFalse:
		v, err := d.dec.ReadValue()
		return string(v), err
	}
	return "", d.dec.SkipValue()
}

// AppendError appends the canonical OpenAI error body
// {"error":{"message":…,"type":…,"param":…,"code":…}} for e to dst and
// returns the extended buffer. Strings are JSON-escaped (invalid UTF-8
// becomes U+FFFD); param and code are null when empty, message and type
// are always strings. ParseError reads the result back to e.
func AppendError(dst []byte, e APIError) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst, _ = jsontext.AppendQuote(dst, e.Message)
	dst = append(dst, `,"type":`...)
	dst, _ = jsontext.AppendQuote(dst, e.Type)
	dst = append(dst, `,"param":`...)
	dst = appendNullable(dst, e.Param)
	dst = append(dst, `,"code":`...)
	dst = appendNullable(dst, e.Code)
	return append(dst, "}}"...)
}

func appendNullable(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	dst, _ = jsontext.AppendQuote(dst, s)
	return dst
}

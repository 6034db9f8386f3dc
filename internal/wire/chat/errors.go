package chat

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// ParamError is openai.ParamError, the error every translator returns for
// a request field it cannot honour, so that the gateway's one renderer
// handles them all.
type ParamError = openai.ParamError

// Reject returns the *ParamError for a parameter param that the provider
// cannot honour, why saying what to do instead.
func (d Dialect) Reject(param, why string) error {
	return &ParamError{Param: param, Msg: fmt.Sprintf("%q is not supported for %s models: %s", param, d.Models, why)}
}

// ParamErrorAt converts a json.Unmarshal error for the value at path (an
// OpenAI parameter path such as "messages[2].content", "" for the top
// level) into a *ParamError naming the offending member. A syntax error
// becomes an *openai.SyntaxError, as the gateway's scanner reports it.
func (d Dialect) ParamErrorAt(path string, err error) error {
	var se *json.SemanticError
	if !errors.As(err, &se) {
		var syn *jsontext.SyntacticError
		if errors.As(err, &syn) {
			// The gateway scans the body before translating, so this is
			// a body that was not checked: report it like the scanner.
			return &openai.SyntaxError{Offset: syn.ByteOffset, Msg: fmt.Sprintf("invalid JSON at byte %d: %v; send the request body as one well-formed JSON object", syn.ByteOffset, syn.Err)}
		}
		return &ParamError{Param: path, Msg: fmt.Sprintf("invalid %s: %v", OrBody(path), err)}
	}
	p := JoinPath(path, se.JSONPointer)
	if errors.Is(se.Err, json.ErrUnknownName) {
		return &ParamError{Param: p, Msg: fmt.Sprintf("unknown parameter %q: it has no counterpart in %s", p, d.API)}
	}
	if se.JSONKind != 0 && se.GoType != nil {
		return &ParamError{Param: p, Msg: fmt.Sprintf("%q must be %s, got %s", p, GoKindName(se.GoType), JSONKindName(se.JSONKind))}
	}
	return &ParamError{Param: p, Msg: fmt.Sprintf("invalid %q: %v", p, se.Err)}
}

// OrBody returns path, or "request body" when path is "" (the top level).
func OrBody(path string) string {
	if path == "" {
		return "request body"
	}
	return path
}

// JoinPath appends a JSON pointer to an OpenAI parameter path, writing
// array indexes as [i]: ("messages[1]", "/content/0/type") →
// "messages[1].content[0].type".
func JoinPath(path string, ptr jsontext.Pointer) string {
	var b strings.Builder
	b.WriteString(path)
	for tok := range ptr.Tokens() {
		if tok != "" && strings.Trim(tok, "0123456789") == "" {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// GoKindName names the JSON value a Go type expects, with its article:
// "a string", "an integer", "an object", ...
func GoKindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// JSONKindName names a JSON value kind: "null", "boolean", "string",
// "number", "object", "array", or "invalid JSON".
func JSONKindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "invalid JSON"
}

// CheckMessage refuses what no translator can carry in a message: the
// deprecated function_call, a reference to an earlier audio answer, and
// tool_calls outside assistant messages. path is "messages[i]".
func (d Dialect) CheckMessage(m Message, path string) error {
	if !IsNull(m.FunctionCall) {
		return d.Reject(path+".function_call", `the deprecated "function_call" is not translated; use "tool_calls"`)
	}
	if !IsNull(m.Audio) {
		return d.Reject(path+".audio", d.Models+" cannot refer to an earlier audio response")
	}
	if len(m.ToolCalls) > 0 && m.Role != "assistant" {
		return &ParamError{Param: path + ".tool_calls", Msg: fmt.Sprintf("%q is only allowed in assistant messages", path+".tool_calls")}
	}
	return nil
}

// ClaudeThinking maps reasoning_effort to a Claude extended-thinking budget
// in tokens, for the Anthropic API and Claude on Bedrock alike. 1024 is
// Claude's minimum budget, so "minimal" gets it too; "none" turns thinking
// off.
var ClaudeThinking = map[string]int64{
	"minimal": 1024,
	"low":     1024,
	"medium":  4096,
	"high":    16384,
}

// CheckRequest refuses the OpenAI parameters no translator can honour
// (beyond their defaults): an empty conversation, n > 1, log
// probabilities, logit_bias, audio output and non-text modalities,
// predicted outputs, web_search_options, verbosity other than medium, and
// the deprecated functions API. Dialect-specific parameters (seed,
// penalties, parallel_tool_calls, top_k, …) are the translator's.
func (d Dialect) CheckRequest(req *Request) error {
	if len(req.Messages) == 0 {
		return &ParamError{Param: "messages", Msg: `"messages" is required and must not be empty`}
	}
	switch {
	case req.N != nil && *req.N != 1:
		return d.Reject("n", d.Models+" returns one choice per request; send n requests instead")
	case req.Logprobs != nil && *req.Logprobs:
		return d.Reject("logprobs", d.Models+" does not return log probabilities")
	case req.TopLogprobs != nil && *req.TopLogprobs != 0:
		return d.Reject("top_logprobs", d.Models+" does not return log probabilities")
	case len(req.LogitBias) > 0:
		return d.Reject("logit_bias", d.Models+" has no token biasing")
	case !IsNull(req.Audio):
		return d.Reject("audio", d.Models+" models do not produce audio")
	case !IsNull(req.Prediction):
		return d.Reject("prediction", d.Models+" has no predicted outputs")
	case !IsNull(req.WebSearchOptions):
		return d.Reject("web_search_options", "use a web search tool of your own instead")
	case req.Verbosity != nil && *req.Verbosity != "medium":
		return d.Reject("verbosity", d.Models+" has no verbosity control")
	case !IsNull(req.Functions):
		return d.Reject("functions", `the deprecated "functions" API is not translated; use "tools"`)
	case !IsNull(req.FunctionCall):
		return d.Reject("function_call", `the deprecated "function_call" API is not translated; use "tool_choice"`)
	}
	for i, m := range req.Modalities {
		if m != "text" {
			return d.Reject(fmt.Sprintf("modalities[%d]", i), fmt.Sprintf("%s models only produce text, not %q", d.Models, m))
		}
	}
	return nil
}

package openai

import (
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Request is what the gateway reads from a Chat Completions or Embeddings
// request body in one pass (see ScanChat and ScanEmbeddings). It also
// remembers where the model and stream_options values are, for Rewrite.
type Request struct {
	// Model is the unescaped "model" value; never empty after a
	// successful scan.
	Model string
	// Stream is the "stream" value; false when absent or null.
	Stream bool
	// IncludeUsage reports that stream_options.include_usage was true.
	IncludeUsage bool
	// MaxTokens is max_completion_tokens when present and non-null, else
	// max_tokens, else 0.
	MaxTokens int64
	// User is the "user" value, "" when absent or null.
	User string
	// Temperature is the "temperature" value when HasTemperature.
	Temperature    float64
	HasTemperature bool

	scanned              bool
	modelStart, modelEnd int  // span of the model string token
	soStart, soEnd       int  // span of the stream_options value, -1 when absent
	soMembers            bool // stream_options is an object with members
	iuStart, iuEnd       int  // span of stream_options.include_usage value, -1 when absent
	lastEnd              int  // end of the last top-level member value
	mtStart, mtEnd       int  // span of the max_tokens value, -1 when absent
	mctStart, mctEnd     int  // span of the max_completion_tokens value, -1 when absent
	tStart, tEnd         int  // span of the temperature value, -1 when absent
	metaStart, metaEnd   int  // span of the metadata object, -1 when absent
}

// kinds is a set of JSON kinds a parameter accepts.
type kinds uint8

const (
	kString kinds = 1 << iota
	kNumber
	kInteger // a number with an integral value that fits in int64
	kBool
	kObject
	kArray
)

func (k kinds) allows(j jsontext.Kind) bool {
	switch j {
	case jsontext.KindString:
		return k&kString != 0
	case jsontext.KindNumber:
		return k&(kNumber|kInteger) != 0
	case jsontext.KindTrue, jsontext.KindFalse:
		return k&kBool != 0
	case jsontext.KindBeginObject:
		return k&kObject != 0
	case jsontext.KindBeginArray:
		return k&kArray != 0
	}
	return false
}

// want describes k for error messages: "a number", "a string or an array".
func (k kinds) want() string {
	var s string
	add := func(w string) {
		if s != "" {
			s += " or "
		}
		s += w
	}
	if k&kString != 0 {
		add("a string")
	}
	if k&kNumber != 0 {
		add("a number")
	}
	if k&kInteger != 0 {
		add("an integer")
	}
	if k&kBool != 0 {
		add("a boolean")
	}
	if k&kObject != 0 {
		add("an object")
	}
	if k&kArray != 0 {
		add("an array")
	}
	return s
}

// field identifies the parameters the scanner treats specially.
type field uint8

const (
	fOther field = iota
	fModel
	fMessages
	fInput
	fStream
	fStreamOptions
	fMaxTokens
	fMaxCompletionTokens
	fUser
	fEncodingFormat
	fTemperature
	fMetadata
)

// param is one row of a parameter table.
type param struct {
	kinds    kinds
	field    field
	required bool
}

// chatParam is the Chat Completions parameter table
// (https://platform.openai.com/docs/api-reference/chat/create). A switch
// on string(name) compiles to a lookup that does not allocate.
func chatParam(name []byte) (param, bool) {
	switch string(name) {
	case "model":
		return param{kString, fModel, true}, true
	case "messages":
		return param{kArray, fMessages, true}, true
	case "stream":
		return param{kBool, fStream, false}, true
	case "stream_options":
		return param{kObject, fStreamOptions, false}, true
	case "temperature":
		return param{kNumber, fTemperature, false}, true
	case "top_p", "presence_penalty", "frequency_penalty":
		return param{kNumber, fOther, false}, true
	case "max_tokens":
		return param{kInteger, fMaxTokens, false}, true
	case "max_completion_tokens":
		return param{kInteger, fMaxCompletionTokens, false}, true
	case "n", "seed", "top_logprobs":
		return param{kInteger, fOther, false}, true
	case "stop":
		return param{kString | kArray, fOther, false}, true
	case "tool_choice", "function_call":
		return param{kString | kObject, fOther, false}, true
	case "logprobs", "parallel_tool_calls", "store":
		return param{kBool, fOther, false}, true
	case "user":
		return param{kString, fUser, false}, true
	case "service_tier", "reasoning_effort", "safety_identifier", "prompt_cache_key", "verbosity":
		return param{kString, fOther, false}, true
	case "tools", "functions", "modalities":
		return param{kArray, fOther, false}, true
	case "metadata":
		return param{kObject, fMetadata, false}, true
	case "logit_bias", "response_format", "audio", "prediction", "web_search_options":
		return param{kObject, fOther, false}, true
	}
	return param{}, false
}

// embeddingsParam is the Embeddings parameter table
// (https://platform.openai.com/docs/api-reference/embeddings/create).
func embeddingsParam(name []byte) (param, bool) {
	switch string(name) {
	case "model":
		return param{kString, fModel, true}, true
	case "input":
		return param{kString | kArray, fInput, true}, true
	case "encoding_format":
		return param{kString, fEncodingFormat, false}, true
	case "dimensions":
		return param{kInteger, fOther, false}, true
	case "user":
		return param{kString, fUser, false}, true
	}
	return param{}, false
}

// ScanChat validates a Chat Completions request body and returns the fields
// the gateway needs, in one pass and without decoding the body.
//
// It checks that body is one JSON object with no duplicate member names
// (anywhere) and nothing after it, that every top-level member is a known
// Chat Completions parameter of the right JSON type (null is accepted for
// every optional one; integer parameters must be integral), that "model" is
// a non-empty string, and that "messages" is a non-empty array of objects
// each with a string "role". It does not look deeper into messages or any
// other value. A top-level member outside the OpenAI schema is accepted
// (and skipped) only when extra reports true for its name; extra may be
// nil, allowing none.
//
// Errors are *SyntaxError for malformed JSON and *ParamError for schema
// violations; both carry a user-facing message.
func ScanChat(body []byte, extra func(name string) bool) (Request, error) {
	return scan(body, extra, chatParam, true)
}

// ScanEmbeddings is ScanChat for an Embeddings request body: "model" (a
// non-empty string) and "input" (a string or an array) are required;
// "encoding_format" must be "float" or "base64"; "dimensions" an integer;
// "user" a string. Stream and IncludeUsage are always false.
func ScanEmbeddings(body []byte, extra func(name string) bool) (Request, error) {
	return scan(body, extra, embeddingsParam, false)
}

func scan(body []byte, extra func(string) bool, table func([]byte) (param, bool), chat bool) (req Request, err error) {
	d := getDecoder(body)
	defer putDecoder(d)
	req.soStart, req.soEnd, req.iuStart, req.iuEnd = -1, -1, -1, -1
	req.mtStart, req.mtEnd, req.mctStart, req.mctEnd, req.tStart, req.tEnd = -1, -1, -1, -1, -1, -1
	req.metaStart, req.metaEnd = -1, -1
	var maxTokens, maxCompletion int64
	var haveMaxCompletion, haveModel, haveMessages, haveInput bool

	defer func() {
		if err != nil {
			if _, ok := err.(*ParamError); !ok {
				if _, ok := err.(*SyntaxError); !ok {
					err = syntaxError(err, body)
				}
			}
			req = Request{}
		}
	}()

	tok, err := d.dec.ReadToken()
	if err != nil {
		return req, err
	}
	if k := tok.Kind(); k != jsontext.KindBeginObject {
		return req, notObjectError(k)
	}
	for {
		end, err := d.endObject()
		if err != nil {
			return req, err
		}
		if end {
			break
		}
		name, err := d.name()
		if err != nil {
			return req, err
		}
		p, known := table(name)
		if !known {
			if extra == nil || !extra(string(name)) {
				return req, unknownParam(name)
			}
			if err := d.dec.SkipValue(); err != nil {
				return req, err
			}
			req.lastEnd = int(d.dec.InputOffset())
			continue
		}
		k := d.dec.PeekKind()
		switch {
		case k == jsontext.KindInvalid:
			_, err := d.dec.ReadToken()
			return req, err
		case k == jsontext.KindNull:
			if p.required {
				if p.field == fModel {
					return req, modelError()
				}
				return req, requiredParam(string(name))
			}
			if _, err := d.dec.ReadToken(); err != nil {
				return req, err
			}
			if p.field == fStreamOptions {
				req.soEnd = int(d.dec.InputOffset())
				req.soStart = req.soEnd - len("null")
			}
			req.lastEnd = int(d.dec.InputOffset())
			continue
		case !p.kinds.allows(k):
			if p.field == fModel {
				return req, modelError()
			}
			return req, typeError(string(name), p.kinds.want(), k)
		}

		switch p.field {
		case fModel:
			v, err := d.dec.ReadValue()
			if err != nil {
				return req, err
			}
			if len(v) == 2 {
				return req, modelError()
			}
			req.modelEnd = int(d.dec.InputOffset())
			req.modelStart = req.modelEnd - len(v)
			req.Model = string(d.unquote(v))
			haveModel = true
		case fUser:
			v, err := d.dec.ReadValue()
			if err != nil {
				return req, err
			}
			req.User = string(d.unquote(v))
		case fEncodingFormat:
			v, err := d.dec.ReadValue()
			if err != nil {
				return req, err
			}
			if s := d.unquote(v); string(s) != "float" && string(s) != "base64" {
				return req, &ParamError{Param: "encoding_format", Msg: fmt.Sprintf(`"encoding_format" must be "float" or "base64", got %s`, v)}
			}
		case fStream:
			tok, err := d.dec.ReadToken()
			if err != nil {
				return req, err
			}
			req.Stream = tok.Bool()
		case fMessages:
			n, err := scanMessages(d)
			if err != nil {
				return req, err
			}
			if n == 0 {
				return req, &ParamError{Param: "messages", Msg: `"messages" must be a non-empty array`}
			}
			haveMessages = true
		case fInput:
			if err := d.dec.SkipValue(); err != nil {
				return req, err
			}
			haveInput = true
		case fStreamOptions:
			if err := scanStreamOptions(d, &req); err != nil {
				return req, err
			}
		default:
			if p.kinds&kInteger != 0 && k == jsontext.KindNumber {
				v, err := d.dec.ReadValue()
				if err != nil {
					return req, err
				}
				n, ok := int64Value(v)
				if !ok {
					return req, &ParamError{Param: string(name), Msg: fmt.Sprintf("%q must be an integer, got %s", name, v)}
				}
				end := int(d.dec.InputOffset())
				switch p.field {
				case fMaxTokens:
					maxTokens = n
					req.mtStart, req.mtEnd = end-len(v), end
				case fMaxCompletionTokens:
					maxCompletion, haveMaxCompletion = n, true
					req.mctStart, req.mctEnd = end-len(v), end
				}
			} else if p.field == fTemperature {
				v, err := d.dec.ReadValue()
				if err != nil {
					return req, err
				}
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil {
					return req, &ParamError{Param: "temperature", Msg: fmt.Sprintf(`"temperature" must be a number, got %s`, v)}
				}
				req.Temperature, req.HasTemperature = f, true
				req.tEnd = int(d.dec.InputOffset())
				req.tStart = req.tEnd - len(v)
			} else if p.field == fMetadata {
				v, err := d.dec.ReadValue()
				if err != nil {
					return req, err
				}
				req.metaEnd = int(d.dec.InputOffset())
				req.metaStart = req.metaEnd - len(v)
			} else if err := d.dec.SkipValue(); err != nil {
				return req, err
			}
		}
		req.lastEnd = int(d.dec.InputOffset())
	}
	if err := d.finish(body); err != nil {
		return req, err
	}
	switch {
	case !haveModel:
		return req, modelError()
	case chat && !haveMessages:
		return req, requiredParam("messages")
	case !chat && !haveInput:
		return req, requiredParam("input")
	}
	req.MaxTokens = maxTokens
	if haveMaxCompletion {
		req.MaxTokens = maxCompletion
	}
	req.scanned = true
	return req, nil
}

func modelError() error {
	return &ParamError{Param: "model", Msg: `"model" must be a non-empty string`}
}

// scanMessages checks that the messages array holds objects with a string
// "role", without descending further, and returns its length.
func scanMessages(d *decoder) (int, error) {
	if _, err := d.dec.ReadToken(); err != nil { // '['
		return 0, err
	}
	n := 0
	for ; ; n++ {
		k := d.dec.PeekKind()
		switch k {
		case jsontext.KindEndArray:
			_, err := d.dec.ReadToken()
			return n, err
		case jsontext.KindInvalid:
			_, err := d.dec.ReadToken()
			return n, err
		case jsontext.KindBeginObject:
		default:
			p := fmt.Sprintf("messages[%d]", n)
			return n, &ParamError{Param: p, Msg: fmt.Sprintf("%q must be an object, got %s", p, kindName(k))}
		}
		if _, err := d.dec.ReadToken(); err != nil {
			return n, err
		}
		haveRole := false
		for {
			end, err := d.endObject()
			if err != nil {
				return n, err
			}
			if end {
				break
			}
			name, err := d.name()
			if err != nil {
				return n, err
			}
			if string(name) == "role" {
				if k := d.dec.PeekKind(); k != jsontext.KindString && k != jsontext.KindInvalid {
					p := fmt.Sprintf("messages[%d].role", n)
					return n, &ParamError{Param: p, Msg: fmt.Sprintf("%q must be a string, got %s", p, kindName(k))}
				}
				haveRole = true
			}
			if err := d.dec.SkipValue(); err != nil {
				return n, err
			}
		}
		if !haveRole {
			p := fmt.Sprintf("messages[%d].role", n)
			return n, &ParamError{Param: p, Msg: fmt.Sprintf("%q is required", p)}
		}
	}
}

// scanStreamOptions reads the stream_options object, recording its span and
// that of include_usage for Rewrite.
func scanStreamOptions(d *decoder, req *Request) error {
	if _, err := d.dec.ReadToken(); err != nil { // '{'
		return err
	}
	req.soStart = int(d.dec.InputOffset()) - 1
	for {
		end, err := d.endObject()
		if err != nil {
			return err
		}
		if end {
			break
		}
		req.soMembers = true
		name, err := d.name()
		if err != nil {
			return err
		}
		if string(name) != "include_usage" {
			if err := d.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		switch k := d.dec.PeekKind(); k {
		case jsontext.KindTrue, jsontext.KindFalse, jsontext.KindNull:
			tok, err := d.dec.ReadToken()
			if err != nil {
				return err
			}
			lit := len("true")
			if tok.Kind() == jsontext.KindFalse {
				lit = len("false")
			}
			req.IncludeUsage = tok.Kind() == jsontext.KindTrue
			req.iuEnd = int(d.dec.InputOffset())
			req.iuStart = req.iuEnd - lit
		case jsontext.KindInvalid:
			_, err := d.dec.ReadToken()
			return err
		default:
			return typeError("stream_options.include_usage", "a boolean", k)
		}
	}
	req.soEnd = int(d.dec.InputOffset())
	return nil
}

// Rewrite appends to dst the request body with the model value replaced by
// model, JSON-quoted (invalid UTF-8 in model becomes U+FFFD), and returns
// the extended buffer. When forceUsage is true and the request streams
// without include_usage already true, it also makes
// stream_options.include_usage true so the upstream reports usage: it
// inserts "stream_options":{"include_usage":true} after the last member when
// stream_options is absent, replaces a null stream_options with that object,
// sets an existing include_usage member to true, or inserts
// "include_usage":true as the first member of an existing object, keeping
// the others. Every other byte of body is copied unchanged.
//
// body must be the exact bytes r was scanned from. A Request that did not
// come from a successful ScanChat or ScanEmbeddings makes Rewrite copy body
// unchanged.
func (r *Request) Rewrite(dst, body []byte, model string, forceUsage bool) []byte {
	return r.RewriteShaped(dst, body, model, forceUsage, Shape{})
}

// Shape bounds what a request may ask for (config: models[].shape and
// keys[].shape). Zero fields are no bound.
type Shape struct {
	// DefaultMaxTokens is set as max_tokens when the request gives neither
	// max_tokens nor max_completion_tokens.
	DefaultMaxTokens int64
	// MaxMaxTokens caps max_tokens and max_completion_tokens.
	MaxMaxTokens int64
	// MaxTemperature caps temperature.
	MaxTemperature float64
}

// The texts of the include_usage edits.
var (
	usageMember = []byte(`,"stream_options":{"include_usage":true}`)
	usageObject = []byte(`{"include_usage":true}`)
	usageFirst  = []byte(`"include_usage":true,`)
	usageOnly   = []byte(`"include_usage":true`)
	jsonTrue    = []byte("true")
)

// IsZero reports a shape that changes nothing.
func (s Shape) IsZero() bool { return s == Shape{} }

// edit replaces body[at:end] with text (an insertion when end == at).
type edit struct {
	at, end int
	text    []byte
	model   bool // text is the quoted model name, appended when applied
}

// RewriteShaped is Rewrite plus request shaping: it caps max_tokens,
// max_completion_tokens and temperature in place and inserts a default
// max_tokens, touching only those values.
func (r *Request) RewriteShaped(dst, body []byte, model string, forceUsage bool, shape Shape) []byte {
	if !r.scanned {
		return append(dst, body...)
	}
	var buf [5]edit
	return r.apply(dst, body, model, r.edits(buf[:0], body, model, forceUsage, shape))
}

// Rewritten is RewriteShaped into dst, except that when the rewrite would
// change nothing (the model is already the upstream's, written without
// escapes, and nothing is forced or shaped) it returns body itself and
// false: the gateway then sends the client's bytes upstream without a copy.
func (r *Request) Rewritten(dst, body []byte, model string, forceUsage bool, shape Shape) ([]byte, bool) {
	if !r.scanned {
		return body, false
	}
	var buf [5]edit
	edits := r.edits(buf[:0], body, model, forceUsage, shape)
	if len(edits) == 0 {
		return body, false
	}
	return r.apply(dst, body, model, edits), true
}

// apply appends body to dst with edits made.
func (r *Request) apply(dst, body []byte, model string, edits []edit) []byte {
	// Apply in body order; insertions at the same point keep their order.
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && edits[j].at < edits[j-1].at; j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	pos := 0
	for _, e := range edits {
		dst = append(dst, body[pos:e.at]...)
		if e.model {
			dst, _ = jsontext.AppendQuote(dst, model) // on invalid UTF-8 the output is still valid
		} else {
			dst = append(dst, e.text...)
		}
		pos = e.end
	}
	return append(dst, body[pos:]...)
}

// edits lists what RewriteShaped changes in body, in no particular order.
func (r *Request) edits(edits []edit, body []byte, model string, forceUsage bool, shape Shape) []edit {
	if raw := body[r.modelStart:r.modelEnd]; len(raw) != len(model)+2 || string(raw[1:len(raw)-1]) != model || !plainString(model) {
		edits = append(edits, edit{at: r.modelStart, end: r.modelEnd, model: true})
	}
	if forceUsage && r.Stream && !r.IncludeUsage {
		switch {
		case r.soStart < 0:
			edits = append(edits, edit{at: r.lastEnd, end: r.lastEnd, text: usageMember})
		case r.iuStart >= 0:
			edits = append(edits, edit{at: r.iuStart, end: r.iuEnd, text: jsonTrue})
		case body[r.soStart] == 'n': // null
			edits = append(edits, edit{at: r.soStart, end: r.soEnd, text: usageObject})
		case r.soMembers:
			edits = append(edits, edit{at: r.soStart + 1, end: r.soStart + 1, text: usageFirst})
		default:
			edits = append(edits, edit{at: r.soStart + 1, end: r.soStart + 1, text: usageOnly})
		}
	}
	if m := shape.MaxMaxTokens; m > 0 {
		for _, sp := range [2][2]int{{r.mtStart, r.mtEnd}, {r.mctStart, r.mctEnd}} {
			if sp[0] >= 0 {
				if n, ok := int64Value(body[sp[0]:sp[1]]); ok && n > m {
					edits = append(edits, edit{at: sp[0], end: sp[1], text: strconv.AppendInt(nil, m, 10)})
				}
			}
		}
	}
	if d := shape.DefaultMaxTokens; d > 0 && r.mtStart < 0 && r.mctStart < 0 {
		if m := shape.MaxMaxTokens; m > 0 && d > m {
			d = m
		}
		edits = append(edits, edit{at: r.lastEnd, end: r.lastEnd, text: strconv.AppendInt([]byte(`,"max_tokens":`), d, 10)})
	}
	if t := shape.MaxTemperature; t > 0 && r.HasTemperature && r.Temperature > t {
		edits = append(edits, edit{at: r.tStart, end: r.tEnd, text: strconv.AppendFloat(nil, t, 'g', -1, 64)})
	}
	return edits
}

// plainString reports whether s is written in JSON as itself between
// quotes: printable ASCII other than '"' and '\\'. (Other strings may be
// written in more than one way; they are always rewritten.)
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Metadata decodes the request's metadata object from body (the bytes r was
// scanned from), keeping its string values. It is decoded only on demand:
// routing rules may need it, the pass-through path does not.
func (r *Request) Metadata(body []byte) map[string]string {
	if r.metaStart < 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(body[r.metaStart:r.metaEnd], &m) != nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// FindField reports the first of names present as a top-level member of
// body, which must already have been scanned successfully. It is a second
// pass, used only for providers that refuse some OpenAI fields.
func FindField(body []byte, names []string) (string, bool) {
	d := getDecoder(body)
	defer putDecoder(d)
	if _, err := d.dec.ReadToken(); err != nil {
		return "", false
	}
	for {
		end, err := d.endObject()
		if err != nil || end {
			return "", false
		}
		name, err := d.name()
		if err != nil {
			return "", false
		}
		for _, n := range names {
			if string(name) == n {
				if d.dec.PeekKind() == jsontext.KindNull {
					break // an explicit null asks for nothing
				}
				return n, true
			}
		}
		if err := d.dec.SkipValue(); err != nil {
			return "", false
		}
	}
}

package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// anthropic is the Anthropic Messages API dialect (api.anthropic.com/v1/messages),
// byte-faithful to fixtures/anthropic: compact JSON with no trailing newline,
// errors as {"type":"error","error":{type,message},"request_id"} with the same
// id in the request-id header, credentials in x-api-key, and a required
// anthropic-version header.
//
// Streams are "event: <type>\ndata: <json>\n\n" with no sentinel. Anthropic
// pads every data payload except ping (and the error event) with 0 to 15
// spaces inserted before its final '}' — the lines still end in '}'. The
// captures show no relation between the padding and the payload's length
// or type, so the emulator draws it uniformly from 0–15 per event.
//
// The captures come from different API versions and the emulator renders
// each kind of answer like its capture: a non-stream text answer in the
// member order of messages-text.response.json ("id" first), a non-stream
// tool answer like messages-tool-use.response.json ("model" first); a plain
// text stream like messages-stream-text.sse, while streams with thinking or
// tool use carry the newer "stop_details":null of messages-stream-thinking.sse
// and messages-stream-parallel-tool-use.sse.
//
// Models starting with "missing-" answer 404 not_found_error.
type anthropic struct{}

const (
	anthropicMessagesPath    = "/v1/messages"
	anthropicCountTokensPath = "/v1/messages/count_tokens"
)

// isAnthropicPath reports the paths the Anthropic dialect answers (with a
// 404 in its shape for the ones it does not know).
func isAnthropicPath(path string) bool {
	return path == anthropicMessagesPath || strings.HasPrefix(path, anthropicMessagesPath+"/")
}

func (anthropic) route(r *http.Request) (handler, error) {
	var h handler
	switch r.URL.Path {
	case anthropicMessagesPath:
		h = anthropicMessages
	case anthropicCountTokensPath:
		h = anthropicCountTokens
	default:
		return nil, anthropicError(http.StatusNotFound, "not_found_error", "Not Found")
	}
	if r.Method != http.MethodPost {
		return nil, anthropicError(http.StatusMethodNotAllowed, "invalid_request_error", "Method Not Allowed")
	}
	return h, nil
}

func (anthropic) authorize(r *http.Request, key string) error {
	switch r.Header.Get("X-Api-Key") {
	case key:
		return nil
	case "":
		return anthropicError(http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
	}
	return anthropicFixtureError(http.StatusUnauthorized) // "invalid x-api-key"
}

func (anthropic) badRequest(message, _, _ string) *httpError {
	return anthropicError(http.StatusBadRequest, "invalid_request_error", message)
}

// anthropicErrorFixtures names the recorded error body for each status.
var anthropicErrorFixtures = map[int]string{
	http.StatusBadRequest:          "error-400-invalid-request.response.json",
	http.StatusUnauthorized:        "error-401-authentication.response.json",
	http.StatusNotFound:            "error-404-not-found.response.json",
	http.StatusTooManyRequests:     "error-429-rate-limit.response.json",
	http.StatusInternalServerError: "error-500-api-error.response.json",
	529:                            "error-529-overloaded.response.json",
}

// anthropicErrorTypes are the documented error types of the statuses
// without a recorded body (docs.anthropic.com/en/api/errors).
var anthropicErrorTypes = map[int]string{
	http.StatusPaymentRequired:       "billing_error",
	http.StatusForbidden:             "permission_error",
	http.StatusRequestEntityTooLarge: "request_too_large",
	http.StatusGatewayTimeout:        "timeout_error",
}

// faultError answers status=N with the recorded type and message for 400,
// 401, 404 (naming the request's model), 429 (with the capture's retry-after
// and anthropic-ratelimit-* headers), 500 and 529; other statuses get their
// documented type (api_error from 500 up, invalid_request_error below) and
// status text. code=C replaces the error type, e.g. status=400;code=billing_error.
// Every body has a fresh request_id, the one in the request-id header.
func (anthropic) faultError(f Faults, model string) *httpError {
	var typ, msg string
	if _, ok := anthropicErrorFixtures[f.status]; ok {
		typ, msg = anthropicFixtureMessage(f.status)
	} else {
		typ, msg = anthropicErrorTypes[f.status], http.StatusText(f.status)
		if typ == "" {
			typ = "invalid_request_error"
			if f.status >= 500 {
				typ = "api_error"
			}
		}
		if msg == "" {
			msg = "Error"
		}
	}
	if f.status == http.StatusNotFound && model != "" {
		msg = "model: " + model // the recorded message's form
	}
	if f.code != "" {
		typ = f.code
	}
	e := anthropicError(f.status, typ, msg)
	if f.status == http.StatusTooManyRequests {
		for k, vs := range anthropicHeaders("error-429-rate-limit.headers.txt") {
			e.header[k] = vs
		}
	}
	return e
}

// streamError is the event error_after= sends: the overloaded_error event of
// messages-stream-error-overloaded.sse, verbatim (Python-style spacing, no
// padding).
func (anthropic) streamError() []byte { return anthropicStreamError() }

var anthropicStreamError = sync.OnceValue(func() []byte {
	b := fixture("anthropic/messages-stream-error-overloaded.sse")
	return b[bytes.LastIndex(b, []byte("event: error\n")):]
})

// headers are the rate-limit headers of messages-text.headers.txt with their
// resets moved to now, and a fresh request-id.
func (anthropic) headers() http.Header {
	h := anthropicHeaders("messages-text.headers.txt")
	h.Set("Request-Id", anthropicRequestID())
	return h
}

// anthropicCaptureTime is when the header fixtures were captured: the date
// of messages-text.headers.txt, and for error-429-rate-limit.headers.txt its
// latest reset minus its retry-after. Reset timestamps are moved by the time
// since then, so that they keep their distance from "now".
var anthropicCaptureTime = time.Date(2025, time.August, 21, 12, 41, 0, 0, time.UTC)

// anthropicHeaders returns the anthropic-ratelimit-* and retry-after headers
// of a headers fixture, with the RFC 3339 resets shifted to the present.
func anthropicHeaders(name string) http.Header {
	shift := time.Now().UTC().Truncate(time.Second).Sub(anthropicCaptureTime)
	h := http.Header{}
	for k, vs := range fixtureHeaders("anthropic/" + name) {
		if !strings.HasPrefix(k, "Anthropic-Ratelimit-") && k != "Retry-After" {
			continue
		}
		v := vs[0]
		if strings.HasSuffix(k, "-Reset") {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				v = t.Add(shift).Format(time.RFC3339)
			}
		}
		h.Set(k, v)
	}
	return h
}

// anthropicError renders Anthropic's error envelope with a fresh request id,
// also sent as the request-id header.
func anthropicError(status int, typ, message string) *httpError {
	id := anthropicRequestID()
	e := jsonError(status, fmt.Appendf(nil, `{"type":"error","error":{"type":%s,"message":%s},"request_id":%s}`,
		jsonString(typ, false), jsonString(message, false), jsonString(id, false)))
	e.header.Set("Request-Id", id)
	return e
}

// anthropicFixtureMessage is the error type and message of the recorded
// error body for status.
func anthropicFixtureMessage(status int) (typ, message string) {
	var v struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(fixture("anthropic/"+anthropicErrorFixtures[status]), &v); err != nil {
		panic(fmt.Sprintf("emulator: fixture for %d: %v", status, err))
	}
	return v.Error.Type, v.Error.Message
}

// anthropicFixtureError is the recorded error for status with a fresh id.
func anthropicFixtureError(status int) *httpError {
	typ, msg := anthropicFixtureMessage(status)
	return anthropicError(status, typ, msg)
}

func anthropicBadRequest(message string) *httpError {
	return anthropicError(http.StatusBadRequest, "invalid_request_error", message)
}

// base58 is the alphabet of Anthropic's msg_/toolu_/req_ ids.
const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func randomBase58(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base58[rand.IntN(len(base58))]
	}
	return string(b)
}

// anthropicRequestID is a request id in the captures' form (req_011C + 20).
func anthropicRequestID() string { return "req_011C" + randomBase58(20) }

// anthropicRequest is the part of a Messages (or count_tokens) request the
// emulator reads. Pointers tell absent fields from zero ones.
type anthropicRequest struct {
	Model         *string            `json:"model"`
	MaxTokens     *int               `json:"max_tokens"`
	Messages      []anthropicMessage `json:"messages"`
	System        json.RawMessage    `json:"system"`
	Stream        bool               `json:"stream"`
	StopSequences []string           `json:"stop_sequences"`
	Tools         []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	Thinking *struct {
		Type         string `json:"type"`
		BudgetTokens int    `json:"budget_tokens"`
	} `json:"thinking"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicVersionRequired is the real API's answer to a request without
// the anthropic-version header (every SDK sends 2023-06-01).
const anthropicVersionRequired = "anthropic-version: header is required"

// decodeAnthropic checks the anthropic-version header and decodes the body,
// answering Anthropic's 400s: invalid JSON (with the position, in the API's
// "line L column C (char N)" form) and fields of the wrong type (pydantic's
// "field: Input should be a valid T").
func decodeAnthropic(x *exchange, v any) error {
	if x.r.Header.Get("Anthropic-Version") == "" {
		return anthropicBadRequest(anthropicVersionRequired)
	}
	err := json.Unmarshal(x.body, v)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		what, at := "unexpected character", max(0, int(se.Offset)-1)
		if int(se.Offset) >= len(x.body) {
			what, at = "unexpected end of data", len(x.body)
		}
		line := 1 + bytes.Count(x.body[:at], []byte("\n"))
		col := 1 + utf8.RuneCount(x.body[bytes.LastIndexByte(x.body[:at], '\n')+1:at])
		return anthropicBadRequest(fmt.Sprintf("The request body is not valid JSON: %s: line %d column %d (char %d)", what, line, col, at))
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return anthropicBadRequest(fmt.Sprintf("%s: Input should be a valid %s", te.Field, pydanticKind(te.Type)))
	}
	if err != nil {
		return anthropicBadRequest(err.Error())
	}
	return nil
}

// pydanticKind names a Go type as pydantic's validation messages do.
func pydanticKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Struct, reflect.Map:
		return "dictionary"
	}
	return t.String()
}

// validate answers the real API's 400s for missing fields (max_tokens only
// on /v1/messages) and the 404 for unknown models.
func (r *anthropicRequest) validate(needMaxTokens bool) error {
	switch {
	case needMaxTokens && r.MaxTokens == nil:
		return anthropicBadRequest("max_tokens: Field required")
	case needMaxTokens && *r.MaxTokens < 1:
		return anthropicBadRequest("max_tokens: Input should be greater than or equal to 1")
	case r.Messages == nil:
		return anthropicBadRequest("messages: Field required")
	case len(r.Messages) == 0:
		return anthropicBadRequest("messages: at least one message is required")
	case r.Model == nil || *r.Model == "":
		return anthropicBadRequest("model: Field required")
	case isMissingModel(*r.Model):
		return anthropicError(http.StatusNotFound, "not_found_error", "model: "+*r.Model)
	}
	return nil
}

// inputTokens is the emulator's prompt token count: characters of the
// system prompt and of the messages' text (strings, text blocks, tool
// results) / 4. count_tokens answers the same number the usage reports.
func (r *anthropicRequest) inputTokens() int {
	n := textChars(r.System)
	for _, m := range r.Messages {
		n += textChars(m.Content)
	}
	return estimateTokens(n)
}

// textChars counts the characters of a content value: a string, or blocks
// whose "text" is counted and whose "content" (tool results) is recursed.
func textChars(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return utf8.RuneCountInString(s)
	}
	var blocks []struct {
		Text    string          `json:"text"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return 0
	}
	n := 0
	for _, b := range blocks {
		n += utf8.RuneCountInString(b.Text)
		if len(b.Content) > 0 {
			n += textChars(b.Content)
		}
	}
	return n
}

// toolToCall is the tool the answer uses: the one tool_choice names, else
// the first client tool (server tools such as web_search have a type and are
// skipped); "" without tools or with tool_choice {"type":"none"}.
func (r *anthropicRequest) toolToCall() string {
	if tc := r.ToolChoice; tc != nil {
		switch {
		case tc.Type == "none":
			return ""
		case tc.Type == "tool" && tc.Name != "":
			return tc.Name
		}
	}
	for _, t := range r.Tools {
		if t.Name != "" && (t.Type == "" || t.Type == "custom") {
			return t.Name
		}
	}
	return ""
}

func (r *anthropicRequest) thinking() bool {
	return r.Thinking != nil && (r.Thinking.Type == "enabled" || r.Thinking.Type == "adaptive")
}

// anthropicThinkingText is the thinking of answers to requests with
// thinking enabled.
const anthropicThinkingText = "The user asked a question. I will answer it briefly and directly."

// anthropicAnswer is one Messages answer before it is rendered.
type anthropicAnswer struct {
	id, model string

	thinking  []string // thinking pieces; nil when thinking is off
	signature string
	text      []string // text pieces
	tool      *toolCall

	stopReason, stopSequence string

	inputTokens, outputTokens int
}

// newAnthropicAnswer builds the answer to req: an optional thinking block,
// the reply text, and a tool_use block when a tool is to be called. A stop
// sequence in the reply cuts it there (stop_reason stop_sequence); a reply
// longer than max_tokens pieces is cut (stop_reason max_tokens); either way
// no tool is called.
func newAnthropicAnswer(req *anthropicRequest, text string) *anthropicAnswer {
	a := &anthropicAnswer{
		id:          "msg_01" + randomBase58(22),
		model:       *req.Model,
		stopReason:  "end_turn",
		inputTokens: req.inputTokens(),
	}
	if req.thinking() {
		a.thinking = pieces(anthropicThinkingText)
		sig := make([]byte, 256)
		for i := range sig {
			sig[i] = byte(rand.Uint32())
		}
		a.signature = base64.StdEncoding.EncodeToString(sig)
	}
	cut, first := false, -1
	for _, s := range req.StopSequences {
		if i := strings.Index(text, s); s != "" && i >= 0 && (first < 0 || i < first) {
			first, a.stopSequence = i, s
		}
	}
	if first >= 0 {
		text, a.stopReason, cut = text[:first], "stop_sequence", true
	}
	a.text = pieces(text)
	if room := *req.MaxTokens - len(a.thinking); len(a.text) > room {
		a.text, a.stopReason, a.stopSequence, cut = a.text[:max(0, room)], "max_tokens", "", true
	}
	if name := req.toolToCall(); name != "" && !cut {
		// Empty input streams as one "" fragment, as in
		// messages-stream-parallel-tool-use.sse.
		a.tool = &toolCall{id: "toolu_01" + randomBase58(22), name: name, fragments: []string{""}}
		a.stopReason = "tool_use"
	}
	a.outputTokens = len(a.thinking) + len(a.text)
	if a.tool != nil {
		a.outputTokens += 1 + len(a.tool.fragments)
	}
	return a
}

// anthropicMessages answers POST /v1/messages.
func anthropicMessages(x *exchange) (*reply, error) {
	var req anthropicRequest
	if err := decodeAnthropic(x, &req); err != nil {
		return nil, err
	}
	if err := req.validate(true); err != nil {
		return nil, err
	}
	a := newAnthropicAnswer(&req, x.replyText())
	h := http.Header{}
	if !req.Stream {
		h.Set("Content-Type", "application/json")
		return &reply{status: http.StatusOK, header: h, body: a.body()}, nil
	}
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	return &reply{status: http.StatusOK, header: h, stream: true, events: a.events()}, nil
}

// anthropicCountTokens answers POST /v1/messages/count_tokens.
func anthropicCountTokens(x *exchange) (*reply, error) {
	var req anthropicRequest
	if err := decodeAnthropic(x, &req); err != nil {
		return nil, err
	}
	if err := req.validate(false); err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &reply{status: http.StatusOK, header: h, body: fmt.Appendf(nil, `{"input_tokens":%d}`, req.inputTokens())}, nil
}

// anthropicUsage is the usage member of a Message (no "inference_geo", as
// in messages-text.response.json and messages-tool-use.response.json).
const anthropicUsage = `"usage":{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":%d,"service_tier":"standard"}`

// body renders a non-stream Message: compact, no trailing newline.
func (a *anthropicAnswer) body() []byte {
	var content []string
	if a.thinking != nil {
		content = append(content, `{"type":"thinking","thinking":`+jsonString(strings.Join(a.thinking, ""), false)+`,"signature":`+jsonString(a.signature, false)+`}`)
	}
	content = append(content, `{"type":"text","text":`+jsonString(strings.Join(a.text, ""), false)+`}`)
	head := `{"id":%[1]s,"type":"message","role":"assistant","model":%[2]s,`
	if t := a.tool; t != nil {
		content = append(content, `{"type":"tool_use","id":`+jsonString(t.id, false)+`,"name":`+jsonString(t.name, false)+`,"input":{}}`)
		head = `{"model":%[2]s,"id":%[1]s,"type":"message","role":"assistant",`
	}
	b := fmt.Appendf(nil, head, jsonString(a.id, false), jsonString(a.model, false))
	return fmt.Appendf(b, `"content":[%s],"stop_reason":%s,"stop_sequence":%s,`+anthropicUsage+`}`,
		strings.Join(content, ","), jsonString(a.stopReason, false), jsonOrNull(a.stopSequence, false),
		a.inputTokens, a.outputTokens)
}

// anthropicPing is the keep-alive event, never padded.
var anthropicPing = []byte("event: ping\ndata: {\"type\": \"ping\"}\n\n")

// anthropicEvent frames one event, padding its payload with 0–15 spaces
// before the final '}' (see [anthropic]).
func anthropicEvent(typ, payload string) []byte {
	pad := rand.IntN(16)
	b := make([]byte, 0, len(typ)+len(payload)+pad+16)
	b = append(b, "event: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: "...)
	b = append(b, payload[:len(payload)-1]...)
	for range pad {
		b = append(b, ' ')
	}
	return append(b, "}\n\n"...)
}

// events renders the stream: message_start, then per content block
// content_block_start, its deltas and content_block_stop (a ping after the
// first start), message_delta with the cumulative usage, message_stop. The
// thinking block ends with an empty thinking_delta and the signature_delta,
// as in messages-stream-thinking.sse; the tool_use block's input arrives as
// input_json_delta fragments starting with "".
func (a *anthropicAnswer) events() [][]byte {
	stopDetails := ""
	if a.thinking != nil || a.tool != nil {
		stopDetails = `"stop_details":null,`
	}
	evs := [][]byte{anthropicEvent("message_start", fmt.Sprintf(
		`{"type":"message_start","message":{"model":%s,"id":%s,"type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,%s"usage":{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard","inference_geo":"not_available"}}}`,
		jsonString(a.model, false), jsonString(a.id, false), stopDetails, a.inputTokens))}
	index := 0
	block := func(start string, deltas ...string) {
		evs = append(evs, anthropicEvent("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":%s}`, index, start)))
		if index == 0 {
			evs = append(evs, anthropicPing)
		}
		for _, d := range deltas {
			evs = append(evs, anthropicEvent("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":%s}`, index, d)))
		}
		evs = append(evs, anthropicEvent("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, index)))
		index++
	}
	delta := func(typ, field string, values ...string) []string {
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = `{"type":"` + typ + `","` + field + `":` + jsonString(v, false) + `}`
		}
		return out
	}
	if a.thinking != nil {
		ds := delta("thinking_delta", "thinking", append(slices.Clip(a.thinking), "")...)
		ds = append(ds, delta("signature_delta", "signature", a.signature)...)
		block(`{"type":"thinking","thinking":"","signature":""}`, ds...)
	}
	block(`{"type":"text","text":""}`, delta("text_delta", "text", a.text...)...)
	if t := a.tool; t != nil {
		block(`{"type":"tool_use","id":`+jsonString(t.id, false)+`,"name":`+jsonString(t.name, false)+`,"input":{},"caller":{"type":"direct"}}`,
			delta("input_json_delta", "partial_json", t.fragments...)...)
	}
	if stopDetails != "" {
		stopDetails = `,"stop_details":null`
	}
	evs = append(evs, anthropicEvent("message_delta", fmt.Sprintf(
		`{"type":"message_delta","delta":{"stop_reason":%s,"stop_sequence":%s%s},"usage":{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":%d}}`,
		jsonString(a.stopReason, false), jsonOrNull(a.stopSequence, false), stopDetails, a.inputTokens, a.outputTokens)))
	return append(evs, anthropicEvent("message_stop", `{"type":"message_stop"}`))
}

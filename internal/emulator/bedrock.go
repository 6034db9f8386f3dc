package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// bedrock is the Amazon Bedrock Converse dialect
// (bedrock-runtime.{region}.amazonaws.com), byte-faithful to
// fixtures/bedrock:
//
//	POST /model/{modelId}/converse           Converse: compact JSON, members in
//	                                         alphabetical order, no trailing newline
//	POST /model/{modelId}/converse-stream    ConverseStream: binary
//	                                         application/vnd.amazon.eventstream frames
//
// The model id is URL-encoded in the path (us.amazon.nova-micro-v1%3A0) and
// decoded from the escaped path, so an encoded '/' stays inside it.
//
// Credentials: with Options.APIKey set, the request must carry either a
// SigV4 "Authorization: AWS4-HMAC-SHA256 Credential=<APIKey>/<date>/…"
// header — only the access key id is compared; the signature is NOT
// verified, since the emulator has no secret — or "Authorization: Bearer
// <APIKey>", as Bedrock API keys are sent. A missing header is 403
// MissingAuthenticationTokenException, a wrong one 403
// UnrecognizedClientException, as AWS answers.
//
// Errors are {"message":…} with the type in the x-amzn-ErrorType header
// ("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/").
// Models starting with "missing-" answer the recorded 400
// ValidationException "The provided model identifier is invalid.".
//
// Streams: every payload carries the random-length "p" padding member
// (a prefix of a–z, A–Z, 0–9, 2 to 61 characters, as in the captures),
// frames have the headers :event-type, :content-type, :message-type in
// that order, and the frames deliberately do not line up with HTTP
// chunks: each frame is flushed in two pieces, and unless chunk_delay= is
// set its last four bytes (the message CRC) travel with the next frame.
// error_after=N sends, in place of frame N, the throttlingException frame
// of converse-stream-exception.constructed.eventstream and ends the body.
type bedrock struct{}

const bedrockPathPrefix = "/model/"

// isBedrockPath reports the paths the Bedrock dialect answers.
func isBedrockPath(path string) bool {
	return strings.HasPrefix(path, bedrockPathPrefix)
}

// bedrockRoute splits an escaped /model/{modelId}/{operation} path.
func bedrockRoute(r *http.Request) (model, op string, ok bool) {
	rest, found := strings.CutPrefix(r.URL.EscapedPath(), bedrockPathPrefix)
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", "", false
	}
	model, err := url.PathUnescape(rest[:i])
	if err != nil || model == "" {
		return "", "", false
	}
	return model, rest[i+1:], true
}

func (bedrock) route(r *http.Request) (handler, error) {
	model, op, ok := bedrockRoute(r)
	if !ok || (op != "converse" && op != "converse-stream") {
		return nil, bedrockError(http.StatusNotFound, "UnknownOperationException", "")
	}
	if r.Method != http.MethodPost {
		return nil, bedrockError(http.StatusMethodNotAllowed, "UnknownOperationException", "")
	}
	stream := op == "converse-stream"
	return func(x *exchange) (*reply, error) { return bedrockConverse(x, model, stream) }, nil
}

func (bedrock) authorize(r *http.Request, key string) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return bedrockError(http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	if token, ok := strings.CutPrefix(auth, "Bearer "); ok && token == key {
		return nil
	}
	if rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 "); ok {
		for _, f := range strings.Split(rest, ",") {
			cred, ok := strings.CutPrefix(strings.TrimSpace(f), "Credential=")
			if !ok {
				continue
			}
			if akid, _, _ := strings.Cut(cred, "/"); akid == key {
				return nil // the signature itself is not verified
			}
		}
	}
	return bedrockError(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
}

func (bedrock) badRequest(message, _, _ string) *httpError {
	return bedrockError(http.StatusBadRequest, "ValidationException", message)
}

// bedrockErrorTypes are the documented error of each status
// (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors).
var bedrockErrorTypes = map[int]struct{ typ, message string }{
	400: {"ValidationException", ""}, // message from the fixture
	403: {"AccessDeniedException", "You don't have access to the model with the specified model ID."},
	404: {"ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier."},
	408: {"ModelTimeoutException", "Model has timed out in processing the request. Try your request again."},
	424: {"ModelErrorException", "The model encountered an error while processing the request."},
	429: {"ThrottlingException", ""}, // message from the fixture
	500: {"InternalServerException", "The server encountered an internal error while processing the request."},
	503: {"ServiceUnavailableException", "Bedrock is unable to process your request."},
}

// faultError answers status=N with the documented type for N (the
// recorded bodies for 400 and 429); code=C replaces the type, e.g.
// status=400;code=ServiceQuotaExceededException.
func (bedrock) faultError(f Faults, _ string) *httpError {
	t, ok := bedrockErrorTypes[f.status]
	switch {
	case !ok && f.status >= 500:
		t.typ = "InternalServerException"
	case !ok:
		t.typ = "ValidationException"
	}
	typ := t.typ
	if f.code != "" {
		typ = f.code
	}
	return bedrockError(f.status, typ, t.message)
}

// streamError is the frame error_after= sends: the throttlingException of
// converse-stream-exception.constructed.eventstream, verbatim.
func (bedrock) streamError() []byte { return bedrockStreamError() }

var bedrockStreamError = sync.OnceValue(func() []byte {
	b := fixture("bedrock/converse-stream-exception.constructed.eventstream")
	var last []byte
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b))
		last, b = b[:n], b[n:]
	}
	return last
})

func (bedrock) headers() http.Header {
	h := http.Header{}
	h.Set("X-Amzn-Requestid", bedrockRequestID())
	return h
}

// bedrockRequestID is a request id in the captures' form (a UUID).
func bedrockRequestID() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// bedrockError renders {"message":…} with the type in x-amzn-ErrorType.
// An empty message takes the recorded one of the type's fixture, or the
// status text.
func bedrockError(status int, typ, message string) *httpError {
	if message == "" {
		switch typ {
		case "ValidationException":
			message = bedrockFixtureMessage("error-400-validation.response.json")
		case "ThrottlingException":
			message = bedrockFixtureMessage("error-429-throttling.response.json")
		case "UnknownOperationException":
			message = "Unknown Operation"
		default:
			message = http.StatusText(status)
		}
	}
	e := jsonError(status, fmt.Appendf(nil, `{"message":%s}`, jsonString(message, false)))
	e.header.Set("X-Amzn-Errortype", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	return e
}

func bedrockFixtureMessage(name string) string {
	var v struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(fixture("bedrock/"+name), &v); err != nil {
		panic(fmt.Sprintf("emulator: fixture %s: %v", name, err))
	}
	return v.Message
}

// converseRequest is the part of a Converse request the emulator reads.
type converseRequest struct {
	Messages []struct {
		Role    string            `json:"role"`
		Content []json.RawMessage `json:"content"`
	} `json:"messages"`
	System          []json.RawMessage `json:"system"`
	InferenceConfig *struct {
		MaxTokens     *int     `json:"maxTokens"`
		StopSequences []string `json:"stopSequences"`
	} `json:"inferenceConfig"`
	ToolConfig *struct {
		Tools []struct {
			ToolSpec *struct {
				Name string `json:"name"`
			} `json:"toolSpec"`
		} `json:"tools"`
		ToolChoice *struct {
			Tool *struct {
				Name string `json:"name"`
			} `json:"tool"`
		} `json:"toolChoice"`
	} `json:"toolConfig"`
	AdditionalModelRequestFields *struct {
		Thinking *struct {
			Type string `json:"type"`
		} `json:"thinking"`
	} `json:"additionalModelRequestFields"`
}

// inputTokens counts the characters of the text blocks, tool results
// included, / 4.
func (r *converseRequest) inputTokens() int {
	n := textChars(json.RawMessage(joinRaw(r.System)))
	for _, m := range r.Messages {
		n += textChars(json.RawMessage(joinRaw(m.Content)))
		for _, c := range m.Content {
			var b struct {
				ToolResult *struct {
					Content json.RawMessage `json:"content"`
				} `json:"toolResult"`
			}
			if json.Unmarshal(c, &b) == nil && b.ToolResult != nil {
				n += textChars(b.ToolResult.Content)
			}
		}
	}
	return estimateTokens(n)
}

func joinRaw(vs []json.RawMessage) []byte {
	b := []byte{'['}
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

// toolToCall is the tool the answer uses: toolChoice.tool's, else the
// first tool; "" without tools.
func (r *converseRequest) toolToCall() string {
	tc := r.ToolConfig
	if tc == nil {
		return ""
	}
	if c := tc.ToolChoice; c != nil && c.Tool != nil && c.Tool.Name != "" {
		return c.Tool.Name
	}
	for _, t := range tc.Tools {
		if t.ToolSpec != nil && t.ToolSpec.Name != "" {
			return t.ToolSpec.Name
		}
	}
	return ""
}

// bedrockAnswer is one Converse answer before it is rendered.
type bedrockAnswer struct {
	thinking  []string
	signature string
	text      []string
	tool      *toolCall
	stop      string

	inputTokens, outputTokens int
}

// bedrockThinkingText is the reasoning of answers to requests with
// thinking enabled.
const bedrockThinkingText = "The user asked a question. I will answer it briefly and directly."

func newBedrockAnswer(req *converseRequest, text string) *bedrockAnswer {
	a := &bedrockAnswer{stop: "end_turn", inputTokens: req.inputTokens()}
	if f := req.AdditionalModelRequestFields; f != nil && f.Thinking != nil && f.Thinking.Type == "enabled" {
		a.thinking = pieces(bedrockThinkingText)
		sig := make([]byte, 240)
		for i := range sig {
			sig[i] = byte(rand.Uint32())
		}
		a.signature = base64.StdEncoding.EncodeToString(sig)
	}
	cut := false
	if ic := req.InferenceConfig; ic != nil {
		first := -1
		for _, s := range ic.StopSequences {
			if i := strings.Index(text, s); s != "" && i >= 0 && (first < 0 || i < first) {
				first = i
			}
		}
		if first >= 0 {
			text, a.stop, cut = text[:first], "stop_sequence", true
		}
		a.text = pieces(text)
		if ic.MaxTokens != nil {
			if room := *ic.MaxTokens - len(a.thinking); len(a.text) > room {
				a.text, a.stop, cut = a.text[:max(0, room)], "max_tokens", true
			}
		}
	} else {
		a.text = pieces(text)
	}
	if name := req.toolToCall(); name != "" && !cut {
		// As in converse-tool-use.response.json, the answer is the call alone.
		a.text = nil
		a.tool = &toolCall{id: "tooluse_" + randomBase64URL(22), name: name, fragments: []string{toolArguments}}
		a.stop = "tool_use"
	}
	a.outputTokens = len(a.thinking) + len(a.text)
	if a.tool != nil {
		a.outputTokens += 1 + len(a.tool.fragments)
	}
	a.outputTokens = max(1, a.outputTokens)
	return a
}

// bedrockConverse answers Converse and ConverseStream for model.
func bedrockConverse(x *exchange, model string, stream bool) (*reply, error) {
	var req converseRequest
	if !json.Valid(x.body) {
		return nil, bedrockError(http.StatusBadRequest, "SerializationException", "Unexpected content in the request body: it is not valid JSON.")
	}
	if err := json.Unmarshal(x.body, &req); err != nil {
		return nil, bedrockError(http.StatusBadRequest, "ValidationException", "Malformed input request: "+err.Error()+", please reformat your input and try again.")
	}
	switch {
	case isMissingModel(model):
		return nil, bedrockError(http.StatusBadRequest, "ValidationException", "")
	case len(req.Messages) == 0:
		return nil, bedrockError(http.StatusBadRequest, "ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	case req.Messages[0].Role != "user":
		return nil, bedrockError(http.StatusBadRequest, "ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	for i := 1; i < len(req.Messages); i++ {
		if req.Messages[i].Role == req.Messages[i-1].Role {
			return nil, bedrockError(http.StatusBadRequest, "ValidationException", "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
	}
	a := newBedrockAnswer(&req, x.replyText())
	latency := 200 + rand.IntN(400)
	h := http.Header{}
	if !stream {
		h.Set("Content-Type", "application/json")
		return &reply{status: http.StatusOK, header: h, body: a.body(latency)}, nil
	}
	h.Set("Content-Type", "application/vnd.amazon.eventstream")
	rep := &reply{status: http.StatusOK, header: h, stream: true, events: a.frames(latency)}
	sw := &bedrockSplitWriter{
		ResponseWriter: x.w,
		rc:             x.rc,
		hold:           x.faults.chunkDelay == 0,
		last:           [][]byte{rep.events[len(rep.events)-1], bedrockStreamError()},
	}
	x.w, x.rc = sw, http.NewResponseController(sw)
	return rep, nil
}

// usageJSON is the usage member; tool answers carry "serverToolUsage":{}
// as converse-tool-use.response.json does.
func (a *bedrockAnswer) usageJSON(serverToolUsage bool) string {
	stu := ""
	if serverToolUsage {
		stu = `"serverToolUsage":{},`
	}
	return fmt.Sprintf(`{"inputTokens":%d,"outputTokens":%d,%s"totalTokens":%d}`,
		a.inputTokens, a.outputTokens, stu, a.inputTokens+a.outputTokens)
}

// body renders a Converse answer like converse.response.json: compact,
// members in alphabetical order, no trailing newline.
func (a *bedrockAnswer) body(latency int) []byte {
	var content []string
	if a.thinking != nil {
		content = append(content, `{"reasoningContent":{"reasoningText":{"signature":`+jsonString(a.signature, false)+`,"text":`+jsonString(strings.Join(a.thinking, ""), false)+`}}}`)
	}
	if a.tool == nil {
		content = append(content, `{"text":`+jsonString(strings.Join(a.text, ""), false)+`}`)
	} else {
		content = append(content, `{"toolUse":{"input":`+a.tool.arguments()+`,"name":`+jsonString(a.tool.name, false)+`,"toolUseId":`+jsonString(a.tool.id, false)+`}}`)
	}
	return fmt.Appendf(nil, `{"metrics":{"latencyMs":%d},"output":{"message":{"content":[%s],"role":"assistant"}},"stopReason":%s,"usage":%s}`,
		latency, strings.Join(content, ","), jsonString(a.stop, false), a.usageJSON(a.tool != nil))
}

// bedrockPadAlphabet is the alphabet of the "p" padding, which is always a
// prefix of it.
const bedrockPadAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func bedrockPad() string {
	return jsonString(bedrockPadAlphabet[:2+rand.IntN(60)], false)
}

var bedrockEncoder = sync.Pool{New: func() any { return eventstream.NewEncoder() }}

// bedrockFrame encodes one event frame with Bedrock's header order.
func bedrockFrame(eventType, payload string) []byte {
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: []byte(payload),
	}
	enc := bedrockEncoder.Get().(*eventstream.Encoder)
	defer bedrockEncoder.Put(enc)
	var b bytes.Buffer
	if err := enc.Encode(&b, msg); err != nil {
		panic("emulator: encode eventstream frame: " + err.Error())
	}
	return b.Bytes()
}

// frames renders the stream as in converse-stream-text.jsonl: messageStart,
// per block its deltas and contentBlockStop (a toolUse block opens with
// contentBlockStart, its input streams as string fragments; a reasoning
// block ends with its signature delta, as in converse-stream-reasoning),
// messageStop with the stopReason, and metadata with usage and metrics.
// Payload members are in alphabetical order, "p" among them.
func (a *bedrockAnswer) frames(latency int) [][]byte {
	frames := [][]byte{bedrockFrame("messageStart", `{"p":`+bedrockPad()+`,"role":"assistant"}`)}
	index := 0
	delta := func(d string) {
		frames = append(frames, bedrockFrame("contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":%d,"delta":%s,"p":%s}`, index, d, bedrockPad())))
	}
	stop := func() {
		frames = append(frames, bedrockFrame("contentBlockStop", fmt.Sprintf(`{"contentBlockIndex":%d,"p":%s}`, index, bedrockPad())))
		index++
	}
	if a.thinking != nil {
		for _, t := range a.thinking {
			delta(`{"reasoningContent":{"text":` + jsonString(t, false) + `}}`)
		}
		delta(`{"reasoningContent":{"signature":` + jsonString(a.signature, false) + `}}`)
		stop()
	}
	if a.tool == nil {
		for _, t := range a.text {
			delta(`{"text":` + jsonString(t, false) + `}`)
		}
		stop()
	} else {
		t := a.tool
		frames = append(frames, bedrockFrame("contentBlockStart", fmt.Sprintf(`{"contentBlockIndex":%d,"p":%s,"start":{"toolUse":{"name":%s,"toolUseId":%s}}}`,
			index, bedrockPad(), jsonString(t.name, false), jsonString(t.id, false))))
		for _, f := range t.fragments {
			delta(`{"toolUse":{"input":` + jsonString(f, false) + `}}`)
		}
		stop()
	}
	frames = append(frames, bedrockFrame("messageStop", `{"p":`+bedrockPad()+`,"stopReason":`+jsonString(a.stop, false)+`}`))
	// The text capture's metadata has "serverToolUsage":{}, the tool one's not.
	return append(frames, bedrockFrame("metadata", fmt.Sprintf(`{"metrics":{"latencyMs":%d},"p":%s,"usage":%s}`,
		latency, bedrockPad(), a.usageJSON(a.tool == nil))))
}

// bedrockSplitWriter makes frames straddle HTTP chunks, as Bedrock's do:
// deliverStream writes and flushes one frame at a time, and this writer
// flushes in the middle of each frame and, when hold is set, keeps the
// frame's last 4 bytes back for the next write. The last frame (and the
// exception frame) is written out whole.
type bedrockSplitWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	hold bool
	last [][]byte
	held []byte
}

func (w *bedrockSplitWriter) Write(p []byte) (int, error) {
	if len(w.held) > 0 {
		if _, err := w.ResponseWriter.Write(w.held); err != nil {
			return 0, err
		}
		w.held = w.held[:0]
	}
	mid := len(p) / 2
	if _, err := w.ResponseWriter.Write(p[:mid]); err != nil {
		return 0, err
	}
	if err := w.rc.Flush(); err != nil {
		return 0, err
	}
	tail := p[mid:]
	if w.hold && len(tail) > 4 && !w.isLast(p) {
		w.held = append(w.held, tail[len(tail)-4:]...)
		tail = tail[:len(tail)-4]
	}
	if _, err := w.ResponseWriter.Write(tail); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *bedrockSplitWriter) isLast(p []byte) bool {
	for _, l := range w.last {
		if bytes.Equal(p, l) {
			return true
		}
	}
	return false
}

// FlushError flushes the underlying writer (http.ResponseController calls it).
func (w *bedrockSplitWriter) FlushError() error { return w.rc.Flush() }

// Unwrap gives http.ResponseController the underlying writer (Hijack).
func (w *bedrockSplitWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// randomBase64URL returns n random characters of the URL-safe base64
// alphabet, the form of Bedrock's tooluse_ ids.
func randomBase64URL(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

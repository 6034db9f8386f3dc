package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"unicode/utf8"
)

// gemini is Google's Gemini API dialect (generativelanguage.googleapis.com
// v1beta) and its Vertex AI twin, byte-faithful to fixtures/gemini:
// success bodies 2-space indented with a final LF; errors google.rpc.Status
// {"error":{code,message,status,details}} in the same layout; alt=sse
// streams "data: {json}\r\n\r\n" (CRLF, no event names, no sentinel) whose
// payloads put a space after ':' only, as stream-text.sse; without alt=sse
// one JSON array "[{…}\n,\r\n{…}\n]" sent element by element, as
// stream-json-array.response.json.
//
// Routes:
//
//	POST /v1beta/models/{model}:generateContent
//	POST /v1beta/models/{model}:streamGenerateContent[?alt=sse]
//	GET  /v1beta/models                                   models-list.response.json verbatim
//	POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent
//	POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:streamGenerateContent
//
// Credentials: x-goog-api-key or ?key= on /v1beta, "Authorization: Bearer"
// on the Vertex paths. A wrong API key is the recorded 400 API_KEY_INVALID.
//
// Answers: text parts in pieces; with thinking (a thinkingConfig budget
// other than 0, or a 2.5/3 model without thinkingConfig) usage carries
// thoughtsTokenCount, and includeThoughts adds a thought part first; with
// functionDeclarations and a functionCallingConfig mode other than NONE
// the answer is one functionCall (the first allowed name, else the first
// declaration) with args {}. maxOutputTokens cuts the text (MAX_TOKENS);
// a stop sequence cuts it too (STOP). Models starting with "missing-"
// answer the recorded 404.
type gemini struct{}

// isGeminiPath reports the paths the Gemini dialect answers.
func isGeminiPath(path string) bool {
	return strings.HasPrefix(path, "/v1beta/") || path == "/v1beta" ||
		(strings.HasPrefix(path, "/v1/projects/") && strings.Contains(path, "/publishers/google/models/"))
}

// geminiTarget is what a generateContent path names.
type geminiTarget struct {
	model, method string
	vertex        bool
}

// parseGeminiPath splits a model method path; ok is false for other paths.
func parseGeminiPath(path string) (geminiTarget, bool) {
	var t geminiTarget
	var rest string
	if r, ok := strings.CutPrefix(path, "/v1beta/models/"); ok {
		rest = r
	} else if i := strings.Index(path, "/publishers/google/models/"); i >= 0 && strings.HasPrefix(path, "/v1/projects/") {
		parts := strings.Split(path[len("/v1/projects/"):i], "/")
		if len(parts) != 3 || parts[1] != "locations" || parts[0] == "" || parts[2] == "" {
			return t, false
		}
		rest, t.vertex = path[i+len("/publishers/google/models/"):], true
	} else {
		return t, false
	}
	model, method, ok := strings.Cut(rest, ":")
	if !ok || model == "" || strings.Contains(model, "/") {
		return t, false
	}
	t.model, t.method = model, method
	return t, method == "generateContent" || method == "streamGenerateContent"
}

func (gemini) route(r *http.Request) (handler, error) {
	if r.URL.Path == "/v1beta/models" {
		if r.Method != http.MethodGet {
			return nil, geminiError(http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "Method not allowed.")
		}
		return geminiModels, nil
	}
	if _, ok := parseGeminiPath(r.URL.Path); !ok {
		return nil, geminiError(http.StatusNotFound, "NOT_FOUND", "Requested entity was not found.")
	}
	if r.Method != http.MethodPost {
		return nil, geminiError(http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "Method not allowed.")
	}
	return geminiGenerate, nil
}

func (gemini) authorize(r *http.Request, key string) error {
	if t, _ := parseGeminiPath(r.URL.Path); t.vertex {
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || auth == "":
			return geminiError(http.StatusUnauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
		case auth != key:
			return geminiError(http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
		}
		return nil
	}
	got := r.Header.Get("X-Goog-Api-Key")
	if got == "" {
		got = r.URL.Query().Get("key")
	}
	switch got {
	case key:
		return nil
	case "":
		return geminiError(http.StatusForbidden, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
	}
	return geminiFixtureError(http.StatusBadRequest, "error-400-api-key-invalid.response.json")
}

func (gemini) badRequest(message, _, _ string) *httpError {
	return geminiError(http.StatusBadRequest, "INVALID_ARGUMENT", message)
}

// geminiStatuses are the google.rpc status names and messages of the
// statuses without a recorded body
// (https://ai.google.dev/gemini-api/docs/troubleshooting).
var geminiStatuses = map[int][2]string{
	http.StatusBadRequest:          {"INVALID_ARGUMENT", "Request contains an invalid argument."},
	http.StatusUnauthorized:        {"UNAUTHENTICATED", "Request had invalid authentication credentials."},
	http.StatusForbidden:           {"PERMISSION_DENIED", "The caller does not have permission"},
	http.StatusNotFound:            {"NOT_FOUND", "Requested entity was not found."},
	http.StatusConflict:            {"ABORTED", "The operation was aborted."},
	http.StatusTooManyRequests:     {"RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."},
	499:                            {"CANCELLED", "The operation was cancelled."},
	http.StatusInternalServerError: {"INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"},
	http.StatusNotImplemented:      {"UNIMPLEMENTED", "Operation is not implemented, or supported, or enabled."},
	http.StatusServiceUnavailable:  {"UNAVAILABLE", "The model is overloaded. Please try again later."},
	http.StatusGatewayTimeout:      {"DEADLINE_EXCEEDED", "Deadline expired before operation could complete."},
}

// faultError answers status=N: 429 is error-429-retry-info-short verbatim
// (RetryInfo retryDelay 34.4s in the body; Google sends no retry-after),
// 404 the recorded NOT_FOUND (naming model when known), 400 with
// code=API_KEY_INVALID the recorded bad-key body; other statuses get
// their google.rpc name and documented message (INTERNAL for unknown 5xx,
// FAILED_PRECONDITION for unknown 4xx). code=C replaces the status name.
func (gemini) faultError(f Faults, model string) *httpError {
	switch {
	case f.status == http.StatusTooManyRequests && f.code == "":
		return geminiFixtureError(f.status, "error-429-retry-info-short.response.json")
	case f.status == http.StatusBadRequest && f.code == "API_KEY_INVALID":
		return geminiFixtureError(f.status, "error-400-api-key-invalid.response.json")
	case f.status == http.StatusNotFound && f.code == "":
		if model == "" {
			return geminiFixtureError(f.status, "error-404-not-found.response.json")
		}
		return geminiNotFound(model)
	}
	s, ok := geminiStatuses[f.status]
	if !ok {
		s = [2]string{"FAILED_PRECONDITION", http.StatusText(f.status)}
		if f.status >= 500 {
			s[0] = "INTERNAL"
		}
	}
	if f.code != "" {
		s[0] = f.code
	}
	return geminiError(f.status, s[0], s[1])
}

// streamError is the payload error_after= sends in an alt=sse stream.
func (gemini) streamError() []byte {
	return []byte("data: " + geminiSpaced(geminiErrorJSON(http.StatusServiceUnavailable, "UNAVAILABLE", geminiStatuses[http.StatusServiceUnavailable][1])) + "\r\n\r\n")
}

// headers are the response headers of the captures (no request id:
// Google sends none).
func (gemini) headers() http.Header {
	h := http.Header{}
	h["Vary"] = []string{"Origin", "X-Origin", "Referer"}
	h.Set("Server", "scaffolding on HTTPServer2")
	h.Set("Server-Timing", fmt.Sprintf("gfet4t7; dur=%d", 100+rand.IntN(900)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("X-Xss-Protection", "0")
	return h
}

// geminiErrorJSON is google.rpc.Status compact, for re-layout.
func geminiErrorJSON(code int, status, message string) string {
	return fmt.Sprintf(`{"error":{"code":%d,"message":%s,"status":%s}}`, code, jsonString(message, false), jsonString(status, false))
}

// geminiError renders google.rpc.Status like the recorded errors.
func geminiError(code int, status, message string) *httpError {
	return geminiJSONError(code, geminiIndent(geminiErrorJSON(code, status, message)))
}

func geminiJSONError(code int, body []byte) *httpError {
	e := jsonError(code, body)
	e.header.Set("Content-Type", "application/json; charset=UTF-8")
	return e
}

func geminiFixtureError(code int, name string) *httpError {
	return geminiJSONError(code, fixture("gemini/"+name))
}

// geminiNotFound is the recorded 404 for model.
func geminiNotFound(model string) *httpError {
	return geminiError(http.StatusNotFound, "NOT_FOUND", "models/"+model+" is not found for API version v1beta, or is not supported for generateContent. Call ModelService.ListModels to see the list of available models and their supported methods.")
}

// geminiIndent lays compact JSON out as Google's success and error bodies:
// 2-space indent, ": " after names, a final LF; empty {} and [] stay.
func geminiIndent(compact string) []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(compact), "", "  "); err != nil {
		panic(fmt.Sprintf("emulator: gemini template: %v: %s", err, compact))
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// geminiSpaced lays compact JSON out as Google's SSE payloads: a space
// after each ':' outside strings, nothing after ','.
func geminiSpaced(compact string) string {
	var b strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(compact); i++ {
		c := compact[i]
		b.WriteByte(c)
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// geminiModels answers GET /v1beta/models.
func geminiModels(*exchange) (*reply, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	return &reply{status: http.StatusOK, header: h, body: fixture("gemini/models-list.response.json")}, nil
}

// geminiRequest is the part of a generateContent body the emulator reads.
type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name string `json:"name"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	ToolConfig *struct {
		FunctionCallingConfig struct {
			Mode                 string   `json:"mode"`
			AllowedFunctionNames []string `json:"allowedFunctionNames"`
		} `json:"functionCallingConfig"`
	} `json:"toolConfig"`
	GenerationConfig struct {
		StopSequences   []string `json:"stopSequences"`
		MaxOutputTokens *int     `json:"maxOutputTokens"`
		ThinkingConfig  *struct {
			IncludeThoughts bool `json:"includeThoughts"`
			ThinkingBudget  *int `json:"thinkingBudget"`
		} `json:"thinkingConfig"`
	} `json:"generationConfig"`
}

type geminiContent struct {
	Role  string `json:"role"`
	Parts []struct {
		Text string `json:"text"`
	} `json:"parts"`
}

// geminiFields are the GenerateContentRequest members; others are
// rejected as the API does.
var geminiFields = map[string]bool{
	"contents": true, "systemInstruction": true, "system_instruction": true, "tools": true,
	"toolConfig": true, "tool_config": true, "safetySettings": true, "safety_settings": true,
	"generationConfig": true, "generation_config": true, "cachedContent": true, "cached_content": true,
	"labels": true, "model": true,
}

// decodeGemini decodes and checks a generateContent body, answering the
// API's 400s.
func decodeGemini(body []byte) (*geminiRequest, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, geminiError(http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.")
	}
	for k := range top {
		if !geminiFields[k] {
			return nil, geminiError(http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k))
		}
	}
	var req geminiRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, geminiError(http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
	}
	if len(req.Contents) == 0 {
		return nil, geminiError(http.StatusBadRequest, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n")
	}
	return &req, nil
}

// geminiThoughtText is the thought of answers with includeThoughts.
const geminiThoughtText = "**Answering the question**\n\nThe user asked a question. I will answer it briefly and directly.\n\n\n"

// geminiAnswer is one answer before it is rendered.
type geminiAnswer struct {
	model, responseID string
	thinking          bool     // usage reports thoughtsTokenCount
	thought           []string // thought part pieces; nil unless includeThoughts
	text              []string
	call              string // function called, "" for none
	signature         string // thoughtSignature of the call, with thinking
	finish            string
	prompt, thoughts  int
}

func newGeminiAnswer(req *geminiRequest, model, text string) *geminiAnswer {
	a := &geminiAnswer{model: model, responseID: randomGeminiID(), finish: "STOP"}
	chars := 0
	if req.SystemInstruction != nil {
		for _, p := range req.SystemInstruction.Parts {
			chars += utf8.RuneCountInString(p.Text)
		}
	}
	for _, c := range req.Contents {
		for _, p := range c.Parts {
			chars += utf8.RuneCountInString(p.Text)
		}
	}
	a.prompt = estimateTokens(chars)
	gc := req.GenerationConfig
	if tc := gc.ThinkingConfig; tc != nil {
		a.thinking = tc.ThinkingBudget == nil || *tc.ThinkingBudget != 0
		if a.thinking && tc.IncludeThoughts {
			a.thought = []string{geminiThoughtText}
		}
	} else {
		a.thinking = strings.HasPrefix(model, "gemini-2.5") || strings.HasPrefix(model, "gemini-3")
	}
	if a.thinking {
		a.thoughts = len(pieces(geminiThoughtText)) + 4
	}
	cut := false
	for _, s := range gc.StopSequences {
		if i := strings.Index(text, s); s != "" && i >= 0 {
			text, cut = text[:i], true
		}
	}
	a.text = pieces(text)
	if m := gc.MaxOutputTokens; m != nil && len(a.text) > *m {
		a.text, a.finish, cut = a.text[:max(0, *m)], "MAX_TOKENS", true
	}
	if tc := req.ToolConfig; !cut && (tc == nil || tc.FunctionCallingConfig.Mode != "NONE") {
		if tc != nil && len(tc.FunctionCallingConfig.AllowedFunctionNames) > 0 {
			a.call = tc.FunctionCallingConfig.AllowedFunctionNames[0]
		} else {
			for _, t := range req.Tools {
				if len(t.FunctionDeclarations) > 0 {
					a.call = t.FunctionDeclarations[0].Name
					break
				}
			}
		}
	}
	if a.call != "" {
		a.text = nil
		if a.thinking {
			sig := make([]byte, 96)
			for i := range sig {
				sig[i] = byte(rand.Uint32())
			}
			a.signature = base64.StdEncoding.EncodeToString(sig)
		}
	}
	return a
}

// randomGeminiID is a responseId in the captures' form (23 base64url
// characters).
func randomGeminiID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 23)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func (a *geminiAnswer) candidates() int {
	n := len(a.text)
	if a.call != "" {
		n += 5
	}
	return n
}

// callPart is the functionCall part, compact.
func (a *geminiAnswer) callPart() string {
	p := `{"functionCall":{"name":` + jsonString(a.call, false) + `,"args":{}}`
	if a.signature != "" {
		p += `,"thoughtSignature":` + jsonString(a.signature, false)
	}
	return p + "}"
}

// usage renders usageMetadata, compact. final adds the candidates counts.
func (a *geminiAnswer) usage(final bool) string {
	details := fmt.Sprintf(`"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}]`, a.prompt)
	thoughts := 0
	if a.thinking {
		thoughts = a.thoughts
	}
	if !final {
		u := fmt.Sprintf(`{"promptTokenCount":%d,"totalTokenCount":%d,%s`, a.prompt, a.prompt+thoughts, details)
		if a.thinking {
			u += fmt.Sprintf(`,"thoughtsTokenCount":%d`, thoughts)
		}
		return u + "}"
	}
	n := a.candidates()
	u := fmt.Sprintf(`{"promptTokenCount":%d,"candidatesTokenCount":%d,"totalTokenCount":%d,%s`, a.prompt, n, a.prompt+n+thoughts, details)
	if a.thinking {
		return u + fmt.Sprintf(`,"thoughtsTokenCount":%d}`, thoughts)
	}
	return u + fmt.Sprintf(`,"candidatesTokensDetails":[{"modality":"TEXT","tokenCount":%d}]}`, n)
}

// response renders one GenerateContentResponse, compact: parts, then the
// finishReason when finish is set.
func (a *geminiAnswer) response(parts []string, finish, final bool, index bool) string {
	c := `{"content":{"parts":[` + strings.Join(parts, ",") + `],"role":"model"}`
	if finish {
		c += `,"finishReason":` + jsonString(a.finish, false)
	}
	if index {
		c += `,"index":0`
	}
	return `{"candidates":[` + c + `}],"usageMetadata":` + a.usage(final) +
		`,"modelVersion":` + jsonString(a.model, false) + `,"responseId":` + jsonString(a.responseID, false) + `}`
}

func textPartJSON(s string, thought bool) string {
	p := `{"text":` + jsonString(s, false)
	if thought {
		p += `,"thought":true`
	}
	return p + "}"
}

// body is the non-stream answer, as generate-content.response.json.
func (a *geminiAnswer) body() []byte {
	var parts []string
	if a.thought != nil {
		parts = append(parts, textPartJSON(strings.Join(a.thought, ""), true))
	}
	if a.call != "" {
		parts = append(parts, a.callPart())
	} else {
		parts = append(parts, textPartJSON(strings.Join(a.text, ""), false))
	}
	return geminiIndent(a.response(parts, true, true, true))
}

// payloads are the stream's responses, compact: the thought, then the
// text in groups of pieces (the first piece alone, as in stream-text.sse),
// or the function call; the last carries finishReason and the final usage.
func (a *geminiAnswer) payloads() []string {
	var parts [][]string
	if a.thought != nil {
		parts = append(parts, []string{textPartJSON(strings.Join(a.thought, ""), true)})
	}
	if a.call != "" {
		parts = append(parts, []string{a.callPart()})
	} else {
		text := a.text
		if len(text) == 0 {
			text = []string{""}
		}
		for i := 0; i < len(text); {
			n := 4
			if i == 0 {
				n = 1
			}
			n = min(n, len(text)-i)
			parts = append(parts, []string{textPartJSON(strings.Join(text[i:i+n], ""), false)})
			i += n
		}
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		last := i == len(parts)-1
		out[i] = a.response(p, last, last, false)
	}
	return out
}

// geminiGenerate answers generateContent and streamGenerateContent.
func geminiGenerate(x *exchange) (*reply, error) {
	t, _ := parseGeminiPath(x.r.URL.Path)
	req, err := decodeGemini(x.body)
	if err != nil {
		return nil, err
	}
	if isMissingModel(t.model) {
		return nil, geminiNotFound(t.model)
	}
	a := newGeminiAnswer(req, t.model, x.replyText())
	h := http.Header{}
	if t.method == "generateContent" {
		h.Set("Content-Type", "application/json; charset=UTF-8")
		return &reply{status: http.StatusOK, header: h, body: a.body()}, nil
	}
	payloads := a.payloads()
	events := make([][]byte, 0, len(payloads)+1)
	if x.r.URL.Query().Get("alt") == "sse" {
		h.Set("Content-Type", "text/event-stream")
		h.Set("Content-Disposition", "attachment")
		for _, p := range payloads {
			events = append(events, []byte("data: "+geminiSpaced(p)+"\r\n\r\n"))
		}
		// Gemini has no sentinel; this empty terminator keeps the last
		// payload within reach of cut_after= and error_after=.
		return &reply{status: http.StatusOK, header: h, stream: true, events: append(events, []byte{})}, nil
	}
	// One JSON array, element by element: "[" elem "\n", ",\r\n" elem
	// "\n", …, "]" (stream-json-array.response.json).
	h.Set("Content-Type", "application/json; charset=UTF-8")
	for i, p := range payloads {
		sep := ",\r\n"
		if i == 0 {
			sep = "["
		}
		el := geminiIndent(p)
		if f := x.faults.errorAfter; f.ok && i == f.n {
			// The error takes the element's place and closes the array;
			// deliverStream's SSE error event does not fit this framing.
			el = geminiIndent(geminiErrorJSON(http.StatusServiceUnavailable, "UNAVAILABLE", geminiStatuses[http.StatusServiceUnavailable][1]))
			events = append(events, append([]byte(sep), el...))
			x.faults.errorAfter = count{}
			return &reply{status: http.StatusOK, header: h, stream: true, events: append(events, []byte("]"))}, nil
		}
		events = append(events, append([]byte(sep), el...))
	}
	return &reply{status: http.StatusOK, header: h, stream: true, events: append(events, []byte("]"))}, nil
}

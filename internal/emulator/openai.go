package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// openAI is the OpenAI API dialect (api.openai.com/v1). Success bodies are
// 2-space indented with a trailing LF; error bodies are 2-space indented with
// no trailing LF; non-stream bodies escape non-ASCII as \uXXXX while stream
// payloads are compact raw UTF-8 — all as in fixtures/openai.
type openAI struct{}

func (openAI) route(r *http.Request) (handler, error) {
	var h handler
	method := http.MethodPost
	switch r.URL.Path {
	case "/v1/chat/completions":
		h = openAIChat
	case "/v1/embeddings":
		h = openAIEmbeddings
	case "/v1/models":
		h, method = openAIModels, http.MethodGet
	default:
		return nil, openAIError(http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "", "")
	}
	if r.Method != method {
		return nil, openAIError(http.StatusMethodNotAllowed, fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "", "")
	}
	return h, nil
}

func (openAI) authorize(r *http.Request, key string) error {
	if r.Header.Get("Authorization") == "Bearer "+key {
		return nil
	}
	return jsonError(http.StatusUnauthorized, fixture("openai/error-401-invalid-api-key.response.json"))
}

func (openAI) badRequest(message, param, code string) *httpError {
	return openAIError(http.StatusBadRequest, message, "invalid_request_error", param, code)
}

// faultError answers status=N: the recorded bodies for 400, 401, 404, 429
// (with the 429's rate-limit headers and retry-after; code=insufficient_quota
// for the billing variant) and 500, OpenAI's overload message for 503, and a
// server_error otherwise. code=C other than the known variants is put in the
// error's code field.
func (openAI) faultError(f Faults, model string) *httpError {
	const serverErrorMessage = "The server had an error while processing your request. Sorry about that!"
	switch {
	case f.status == http.StatusTooManyRequests && f.code == "insufficient_quota":
		return jsonError(f.status, fixture("openai/error-429-insufficient-quota.response.json"))
	case f.code != "" && f.code != "rate_limit_exceeded":
		typ := "invalid_request_error"
		if f.status >= 500 {
			typ = "server_error"
		}
		return openAIError(f.status, http.StatusText(f.status)+".", typ, "", f.code)
	case f.status == http.StatusBadRequest:
		return jsonError(f.status, fixture("openai/error-400-invalid-request.response.json"))
	case f.status == http.StatusUnauthorized:
		return jsonError(f.status, fixture("openai/error-401-invalid-api-key.response.json"))
	case f.status == http.StatusNotFound && model != "":
		return openAIModelNotFound(model)
	case f.status == http.StatusNotFound:
		return jsonError(f.status, fixture("openai/error-404-model-not-found.response.json"))
	case f.status == http.StatusTooManyRequests:
		e := jsonError(f.status, fixture("openai/error-429-rate-limit.response.json"))
		e.header = fixtureHeaders("openai/error-429-rate-limit.headers.txt")
		e.header.Del("X-Request-Id") // a fresh one is added like on every answer
		return e
	case f.status == http.StatusInternalServerError:
		return jsonError(f.status, fixture("openai/error-500-server-error.response.json"))
	case f.status == http.StatusServiceUnavailable:
		return openAIError(f.status, "The engine is currently overloaded, please try again later.", "server_error", "", "")
	default:
		return openAIError(f.status, serverErrorMessage, "server_error", "", "")
	}
}

func (openAI) headers() http.Header {
	h := http.Header{}
	h.Set("Access-Control-Expose-Headers", "X-Request-ID")
	h.Set("Openai-Processing-Ms", "1")
	h.Set("Openai-Version", "2020-10-01")
	h.Set("X-Ratelimit-Limit-Requests", "30000")
	h.Set("X-Ratelimit-Limit-Tokens", "150000000")
	h.Set("X-Ratelimit-Remaining-Requests", "29999")
	h.Set("X-Ratelimit-Remaining-Tokens", "149999981")
	h.Set("X-Ratelimit-Reset-Requests", "2ms")
	h.Set("X-Ratelimit-Reset-Tokens", "0s")
	h.Set("X-Request-Id", "req_"+randomHex(16))
	return h
}

// fixtureHeaders reads a *.headers.txt fixture (status line, then
// "name: value" lines) into a header.
func fixtureHeaders(name string) http.Header {
	h := http.Header{}
	lines := strings.Split(strings.TrimRight(string(fixture(name)), "\n"), "\n")
	for _, line := range lines[1:] {
		if k, v, ok := strings.Cut(line, ": "); ok {
			h.Add(k, v)
		}
	}
	return h
}

// openAIError renders OpenAI's error envelope in its own layout: 2-space
// indent, no trailing newline; param and code are null when "".
func openAIError(status int, message, typ, param, code string) *httpError {
	body := fmt.Appendf(nil, "{\n  \"error\": {\n    \"message\": %s,\n    \"type\": %s,\n    \"param\": %s,\n    \"code\": %s\n  }\n}",
		jsonString(message, true), jsonString(typ, true), jsonOrNull(param, true), jsonOrNull(code, true))
	return jsonError(status, body)
}

// openAIModelNotFound is the recorded 404 for an unknown model.
func openAIModelNotFound(model string) *httpError {
	return openAIError(http.StatusNotFound, "The model `"+model+"` does not exist or you do not have access to it.", "invalid_request_error", "", "model_not_found")
}

// openAIChat answers POST /v1/chat/completions.
func openAIChat(x *exchange) (*reply, error) {
	var req chatRequest
	if err := x.decodeRequest(&req); err != nil {
		return nil, err
	}
	switch {
	case req.Model == "":
		return nil, openAIError(http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "", "")
	case req.Messages == nil:
		return nil, openAIError(http.StatusBadRequest, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter")
	case isMissingModel(req.Model):
		return nil, openAIModelNotFound(req.Model)
	}
	a := newChatAnswer(&req, req.Model, x.replyText())
	h := http.Header{}
	if !a.stream {
		h.Set("Content-Type", "application/json")
		return &reply{status: http.StatusOK, header: h, body: a.openAIBody()}, nil
	}
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	return &reply{status: http.StatusOK, header: h, stream: true, events: a.openAIEvents()}, nil
}

// openAIChatTemplate is fixtures/openai/chat-text.response.json with its
// values as verbs; the verb after "content" takes the tool_calls member
// when there is one.
const openAIChatTemplate = `{
  "id": %s,
  "object": "chat.completion",
  "created": %d,
  "model": %s,
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": %s,
%s        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": %s
    }
  ],
  "usage": {
    "prompt_tokens": %d,
    "completion_tokens": %d,
    "total_tokens": %d,
    "prompt_tokens_details": {
      "cached_tokens": 0,
      "audio_tokens": 0
    },
    "completion_tokens_details": {
      "reasoning_tokens": 0,
      "audio_tokens": 0,
      "accepted_prediction_tokens": 0,
      "rejected_prediction_tokens": 0
    }
  },
  "service_tier": "default",
  "system_fingerprint": %s
}
`

// openAIToolCallsTemplate is the tool_calls member of
// fixtures/openai/chat-tools.response.json.
const openAIToolCallsTemplate = `        "tool_calls": [
          {
            "id": %s,
            "type": "function",
            "function": {
              "name": %s,
              "arguments": %s
            }
          }
        ],
`

// openAIBody renders a non-stream chat.completion.
func (a *chatAnswer) openAIBody() []byte {
	content, toolCalls := jsonString(a.text, true), ""
	if a.tool != nil {
		content = "null"
		toolCalls = fmt.Sprintf(openAIToolCallsTemplate, jsonString(a.tool.id, true), jsonString(a.tool.name, true), jsonString(a.tool.arguments(), true))
	}
	return fmt.Appendf(nil, openAIChatTemplate,
		jsonString(a.id, true), a.created, jsonString(a.model, true), content, toolCalls,
		jsonString(a.finishReason(), true),
		a.promptTokens, a.completionTokens, a.promptTokens+a.completionTokens,
		jsonString(a.fingerprint, true))
}

// openAIEvents renders a chat.completion.chunk stream as in
// fixtures/openai/chat-stream-usage.sse (text) and chat-stream-tool-calls.sse
// (tools): a role chunk, one chunk per piece, a finish chunk, the usage chunk
// with "choices":[] when include_usage was asked, then [DONE]. "usage":null
// appears on the other chunks only with include_usage, as OpenAI does.
func (a *chatAnswer) openAIEvents() [][]byte {
	prefix := fmt.Sprintf(`{"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s,"service_tier":"default","system_fingerprint":%s,"choices":[`,
		jsonString(a.id, false), a.created, jsonString(a.model, false), jsonString(a.fingerprint, false))
	chunk := func(delta, finish string, pad int) []byte {
		b := make([]byte, 0, len(prefix)+len(delta)+128)
		b = append(b, prefix...)
		b = append(b, `{"index":0,"delta":`...)
		b = append(b, delta...)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		b = append(b, finish...)
		b = append(b, "}]"...)
		if a.includeUsage {
			b = append(b, `,"usage":null`...)
		}
		return sseEvent(a.openAIObfuscate(b, pad))
	}
	var events [][]byte
	if a.tool == nil {
		events = append(events, chunk(`{"role":"assistant","content":"","refusal":null}`, "null", 14))
		for _, p := range a.pieces {
			events = append(events, chunk(`{"content":`+jsonString(p, false)+`}`, "null", 16-len(p)))
		}
	} else {
		t := a.tool
		events = append(events, chunk(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":`+jsonString(t.id, false)+
			`,"type":"function","function":{"name":`+jsonString(t.name, false)+`,"arguments":""}}],"refusal":null}`, "null", 16-len(t.name)))
		for _, frag := range t.fragments {
			events = append(events, chunk(`{"tool_calls":[{"index":0,"function":{"arguments":`+jsonString(frag, false)+`}}]}`, "null", 16-len(frag)))
		}
	}
	events = append(events, chunk("{}", jsonString(a.finishReason(), false), 10))
	if a.includeUsage {
		b := []byte(prefix)
		b = fmt.Appendf(b, `],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`,
			a.promptTokens, a.completionTokens, a.promptTokens+a.completionTokens)
		events = append(events, sseEvent(a.openAIObfuscate(b, 0)))
	}
	return append(events, doneEvent)
}

// openAIObfuscate closes an OpenAI chunk object, adding the obfuscation
// member last when it is on.
func (a *chatAnswer) openAIObfuscate(b []byte, pad int) []byte {
	if a.obfuscate {
		b = append(b, `,"obfuscation":"`...)
		b = append(b, obfuscation(pad)...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// openAIEmbeddings answers POST /v1/embeddings.
func openAIEmbeddings(x *exchange) (*reply, error) {
	var req embeddingsRequest
	if err := x.decodeRequest(&req); err != nil {
		return nil, err
	}
	switch {
	case req.Model == "":
		return nil, openAIError(http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "", "")
	case isMissingModel(req.Model):
		return nil, openAIModelNotFound(req.Model)
	}
	a, err := x.newEmbeddingAnswer(&req, req.Model)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Openai-Model", req.Model)
	return &reply{status: http.StatusOK, header: h, body: a.render(true)}, nil
}

// render writes an embeddings list: OpenAI's 2-space layout with a trailing
// LF (fixtures/openai/embeddings-*.response.json) when indent is set, else
// the same members compact with a trailing LF (Azure).
func (a *embeddingAnswer) render(indent bool) []byte {
	nl := func(depth int) string {
		if !indent {
			return ""
		}
		return "\n" + strings.Repeat("  ", depth)
	}
	sep := ":"
	if indent {
		sep = ": "
	}
	var b bytes.Buffer
	b.WriteString("{" + nl(1) + `"object"` + sep + `"list",` + nl(1) + `"data"` + sep + "[")
	for i, v := range a.vectors {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(nl(2) + "{" + nl(3) + `"object"` + sep + `"embedding",` + nl(3) + `"index"` + sep + strconv.Itoa(i) + "," + nl(3) + `"embedding"` + sep)
		if a.base64 {
			raw := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(f))
			}
			b.WriteString(`"` + base64.StdEncoding.EncodeToString(raw) + `"`)
		} else {
			b.WriteString("[")
			for j, f := range v {
				if j > 0 {
					b.WriteString(",")
				}
				b.WriteString(nl(4))
				b.Write(strconv.AppendFloat(nil, float64(f), 'g', -1, 32))
			}
			b.WriteString(nl(3) + "]")
		}
		b.WriteString(nl(2) + "}")
	}
	if len(a.vectors) > 0 {
		b.WriteString(nl(1))
	}
	fmt.Fprintf(&b, `],%s"model"%s%s,%s"usage"%s{%s"prompt_tokens"%s%d,%s"total_tokens"%s%d%s}%s}`+"\n",
		nl(1), sep, jsonString(a.model, indent), nl(1), sep, nl(2), sep, a.tokens, nl(2), sep, a.tokens, nl(1), nl(0))
	return b.Bytes()
}

// openAIModelCreated is the created time of models listed from
// Options.Models.
const openAIModelCreated = 1686935002

// openAIModels answers GET /v1/models: the recorded list verbatim, or
// Options.Models in the same layout.
func openAIModels(x *exchange) (*reply, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	models := x.e.opts.Models
	if models == nil {
		return &reply{status: http.StatusOK, header: h, body: fixture("openai/models-list.response.json")}, nil
	}
	var b bytes.Buffer
	b.WriteString("{\n  \"object\": \"list\",\n  \"data\": [")
	for i, id := range models {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n    {\n      \"id\": %s,\n      \"object\": \"model\",\n      \"created\": %d,\n      \"owned_by\": \"system\"\n    }", jsonString(id, true), openAIModelCreated)
	}
	if len(models) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]\n}\n")
	return &reply{status: http.StatusOK, header: h, body: b.Bytes()}, nil
}

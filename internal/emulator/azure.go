package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// azure is the Azure OpenAI dialect
// ({resource}.openai.azure.com/openai/deployments/{deployment}/...). Bodies
// are compact JSON with a trailing LF and (mostly) alphabetical keys, with
// content-filter annotations, as in fixtures/azure. Credentials travel in
// the api-key header.
//
// The deployment in the URL decides the model and the body's "model" is
// ignored, as on Azure. Real Azure answers the underlying model name (e.g.
// "gpt-4o-2024-11-20"); the emulator has no deployment table, so it echoes
// the deployment name as the model. Deployments starting with "missing-"
// answer Azure's 404 DeploymentNotFound.
type azure struct{}

const (
	azureChatSuffix       = "/chat/completions"
	azureEmbeddingsSuffix = "/embeddings"
	azureDeploymentsPath  = "/openai/deployments/"
)

// azureDeployment extracts the deployment from an Azure chat or embeddings
// path.
func azureDeployment(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, azureDeploymentsPath)
	if !ok {
		return "", false
	}
	for _, suffix := range []string{azureChatSuffix, azureEmbeddingsSuffix} {
		if d, ok := strings.CutSuffix(rest, suffix); ok && d != "" && !strings.Contains(d, "/") {
			return d, true
		}
	}
	return "", false
}

// azureResourceNotFound is Azure's answer to unknown paths and to requests
// without api-version.
func azureResourceNotFound() *httpError {
	return jsonError(http.StatusNotFound, []byte(`{"error":{"code":"404","message":"Resource not found"}}`))
}

func (azure) route(r *http.Request) (handler, error) {
	if _, ok := azureDeployment(r.URL.Path); !ok || r.URL.Query().Get("api-version") == "" {
		return nil, azureResourceNotFound()
	}
	if r.Method != http.MethodPost {
		return nil, jsonError(http.StatusMethodNotAllowed, []byte(`{"error":{"code":"405","message":"Method Not Allowed"}}`))
	}
	if strings.HasSuffix(r.URL.Path, azureEmbeddingsSuffix) {
		return azureEmbeddings, nil
	}
	return azureChat, nil
}

// azureUnauthorizedBody is what Azure's API gateway answers to a wrong or
// missing api-key.
const azureUnauthorizedBody = `{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}`

func (azure) authorize(r *http.Request, key string) error {
	if r.Header.Get("Api-Key") == key {
		return nil
	}
	return jsonError(http.StatusUnauthorized, []byte(azureUnauthorizedBody))
}

// badRequest is OpenAI's error envelope, compact, as Azure passes model
// errors through.
func (azure) badRequest(message, param, code string) *httpError {
	return azureOpenAIError(http.StatusBadRequest, message, "invalid_request_error", param, code)
}

func azureOpenAIError(status int, message, typ, param, code string) *httpError {
	return jsonError(status, fmt.Appendf(nil, `{"error":{"message":%s,"type":%s,"param":%s,"code":%s}}`,
		jsonString(message, false), jsonString(typ, false), jsonOrNull(param, false), jsonOrNull(code, false)))
}

// azureDeploymentNotFound is Azure's 404 for an unknown deployment.
func azureDeploymentNotFound() *httpError {
	return jsonError(http.StatusNotFound, []byte(`{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}}`))
}

// faultError answers status=N in Azure's shapes: the recorded content-filter
// 400 with code=content_filter, the 401 and 404 of Azure's gateway, a 429
// with retry-after, and {"error":{"code","message"}} otherwise.
func (azure) faultError(f Faults, _ string) *httpError {
	switch {
	case f.status == http.StatusBadRequest && f.code == "content_filter":
		return jsonError(f.status, fixture("azure/error-400-content-filter.response.json"))
	case f.status == http.StatusBadRequest:
		return azureOpenAIError(f.status, "Invalid request.", "invalid_request_error", "", f.code)
	case f.status == http.StatusUnauthorized:
		return jsonError(f.status, []byte(azureUnauthorizedBody))
	case f.status == http.StatusNotFound:
		return azureDeploymentNotFound()
	case f.status == http.StatusTooManyRequests:
		e := jsonError(f.status, []byte(`{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-12-01-preview have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 1 second. Please contact Azure support service if you would like to further increase the default rate limit."}}`))
		e.header.Set("Retry-After", "1")
		e.header.Set("Retry-After-Ms", "1000")
		e.header.Set("X-Ratelimit-Remaining-Requests", "0")
		e.header.Set("X-Ratelimit-Remaining-Tokens", "0")
		return e
	case f.status == http.StatusInternalServerError:
		return azureOpenAIError(f.status, "The server had an error while processing your request. Sorry about that!", "server_error", "", f.code)
	default:
		code := f.code
		if code == "" {
			code = fmt.Sprint(f.status)
		}
		return jsonError(f.status, fmt.Appendf(nil, `{"error":{"code":%s,"message":%s}}`, jsonString(code, false), jsonString(http.StatusText(f.status), false)))
	}
}

func (azure) headers() http.Header {
	h := http.Header{}
	h.Set("Apim-Request-Id", randomUUID())
	h.Set("X-Request-Id", randomUUID())
	h.Set("X-Ratelimit-Remaining-Requests", "999")
	h.Set("X-Ratelimit-Remaining-Tokens", "999000")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload")
	return h
}

// Content-filter annotations, in Azure's key order.
const (
	azurePromptFilterResults = `[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]`
	azureChoiceFilterResults = `{"hate":{"filtered":false,"severity":"safe"},"protected_material_code":{"filtered":false,"detected":false},"protected_material_text":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`
	azureDeltaFilterResults  = `{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`
)

// azureChat answers POST /openai/deployments/{deployment}/chat/completions.
func azureChat(x *exchange) (*reply, error) {
	deployment, _ := azureDeployment(x.r.URL.Path)
	var req chatRequest
	if err := x.decodeRequest(&req); err != nil {
		return nil, err
	}
	switch {
	case isMissingModel(deployment):
		return nil, azureDeploymentNotFound()
	case req.Messages == nil:
		return nil, azureOpenAIError(http.StatusBadRequest, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter")
	}
	a := newChatAnswer(&req, deployment, x.replyText())
	h := http.Header{}
	if !a.stream {
		h.Set("Content-Type", "application/json")
		return &reply{status: http.StatusOK, header: h, body: a.azureBody()}, nil
	}
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	return &reply{status: http.StatusOK, header: h, stream: true, events: a.azureEvents()}, nil
}

// azureUsage is the usage object in Azure's alphabetical order.
func (a *chatAnswer) azureUsage() string {
	return fmt.Sprintf(`{"completion_tokens":%d,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":0,"rejected_prediction_tokens":0},"prompt_tokens":%d,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":0},"total_tokens":%d}`,
		a.completionTokens, a.promptTokens, a.promptTokens+a.completionTokens)
}

// azureBody renders a non-stream chat.completion as
// fixtures/azure/chat-completions.response.json.
func (a *chatAnswer) azureBody() []byte {
	filters := azureChoiceFilterResults
	message := `{"content":` + jsonString(a.text, false) + `,"refusal":null,"role":"assistant"}`
	if t := a.tool; t != nil {
		filters = "{}"
		message = `{"content":null,"refusal":null,"role":"assistant","tool_calls":[{"function":{"arguments":` + jsonString(t.arguments(), false) +
			`,"name":` + jsonString(t.name, false) + `},"id":` + jsonString(t.id, false) + `,"type":"function"}]}`
	}
	return fmt.Appendf(nil, `{"choices":[{"content_filter_results":%s,"finish_reason":%s,"index":0,"logprobs":null,"message":%s}],"created":%d,"id":%s,"model":%s,"object":"chat.completion","prompt_filter_results":%s,"system_fingerprint":%s,"usage":%s}`+"\n",
		filters, jsonString(a.finishReason(), false), message, a.created, jsonString(a.id, false), jsonString(a.model, false),
		azurePromptFilterResults, jsonString(a.fingerprint, false), a.azureUsage())
}

// azureEvents renders a stream as fixtures/azure/chat-stream-content-filter.sse:
// first a chunk with "choices":[], "id":"", "created":0 and only the prompt
// filter results, then OpenAI's sequence with content_filter_results on
// every choice (the safe verdicts on text deltas, {} on the others).
func (a *chatAnswer) azureEvents() [][]byte {
	events := [][]byte{sseEvent([]byte(`{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":` + azurePromptFilterResults + `}`))}
	tail := func(choices string, pad int, usage string) []byte {
		b := fmt.Appendf(nil, `{"choices":[%s],"created":%d,"id":%s,"model":%s,`, choices, a.created, jsonString(a.id, false), jsonString(a.model, false))
		if a.obfuscate {
			b = append(b, `"obfuscation":"`+obfuscation(pad)+`",`...)
		}
		b = append(b, `"object":"chat.completion.chunk","system_fingerprint":`+jsonString(a.fingerprint, false)...)
		if usage != "" {
			b = append(b, `,"usage":`+usage...)
		}
		return sseEvent(append(b, '}'))
	}
	nullUsage := ""
	if a.includeUsage {
		nullUsage = "null"
	}
	chunk := func(filters, delta, finish string, pad int) []byte {
		return tail(`{"content_filter_results":`+filters+`,"delta":`+delta+`,"finish_reason":`+finish+`,"index":0,"logprobs":null}`, pad, nullUsage)
	}
	if t := a.tool; t == nil {
		events = append(events, chunk("{}", `{"content":"","refusal":null,"role":"assistant"}`, "null", 14))
		for _, p := range a.pieces {
			events = append(events, chunk(azureDeltaFilterResults, `{"content":`+jsonString(p, false)+`}`, "null", 16-len(p)))
		}
	} else {
		events = append(events, chunk("{}", `{"content":null,"refusal":null,"role":"assistant","tool_calls":[{"function":{"arguments":"","name":`+jsonString(t.name, false)+
			`},"id":`+jsonString(t.id, false)+`,"index":0,"type":"function"}]}`, "null", 16-len(t.name)))
		for _, frag := range t.fragments {
			events = append(events, chunk("{}", `{"tool_calls":[{"function":{"arguments":`+jsonString(frag, false)+`},"index":0}]}`, "null", 16-len(frag)))
		}
	}
	events = append(events, chunk("{}", "{}", jsonString(a.finishReason(), false), 10))
	if a.includeUsage {
		events = append(events, tail("", 14, a.azureUsage()))
	}
	return append(events, doneEvent)
}

// azureEmbeddings answers POST /openai/deployments/{deployment}/embeddings:
// OpenAI's members, compact with a trailing LF.
func azureEmbeddings(x *exchange) (*reply, error) {
	deployment, _ := azureDeployment(x.r.URL.Path)
	var req embeddingsRequest
	if err := x.decodeRequest(&req); err != nil {
		return nil, err
	}
	if isMissingModel(deployment) {
		return nil, azureDeploymentNotFound()
	}
	a, err := x.newEmbeddingAnswer(&req, deployment)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &reply{status: http.StatusOK, header: h, body: a.render(false)}, nil
}

package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"
)

// This file decodes the OpenAI-schema request bodies that OpenAI and Azure
// share and turns them into dialect-neutral answers, which openai.go and
// azure.go render. Decoding uses encoding/json: this is the emulator, not
// the gateway's hot path.

// invalidJSONMessage is OpenAI's answer to a body that is not JSON.
const invalidJSONMessage = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"

// decodeJSON decodes a request body into v.
func decodeJSON(body []byte, v any) error {
	return json.Unmarshal(body, v)
}

// decodeRequest decodes the body into v, answering OpenAI's 400s for bodies
// that are not JSON or have a field of the wrong type.
func (x *exchange) decodeRequest(v any) error {
	if !json.Valid(x.body) {
		return x.dialect.badRequest(invalidJSONMessage, "", "")
	}
	err := decodeJSON(x.body, v)
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return x.dialect.badRequest(fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", te.Field, te.Type, te.Value), te.Field, "invalid_type")
	}
	if err != nil {
		return x.dialect.badRequest(err.Error(), "", "")
	}
	return nil
}

// isMissingModel reports the models the emulator pretends not to know:
// "missing-model" and any other id starting with "missing-".
func isMissingModel(model string) bool {
	return strings.HasPrefix(model, "missing-")
}

// chatRequest is the part of a Chat Completions request the emulator reads.
type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage       bool  `json:"include_usage"`
		IncludeObfuscation *bool `json:"include_obfuscation"`
	} `json:"stream_options"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// promptChars counts the characters of the messages' text: string contents
// and the text of content parts.
func (r *chatRequest) promptChars() int {
	n := 0
	for _, m := range r.Messages {
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			n += utf8.RuneCountInString(s)
			continue
		}
		var parts []struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(m.Content, &parts) == nil {
			for _, p := range parts {
				n += utf8.RuneCountInString(p.Text)
			}
		}
	}
	return n
}

// toolToCall is the function the answer calls: the one tool_choice names,
// else the first tool; "" when there are no tools or tool_choice is "none".
func (r *chatRequest) toolToCall() string {
	if len(r.Tools) == 0 {
		return ""
	}
	var mode string
	if json.Unmarshal(r.ToolChoice, &mode) == nil && mode == "none" {
		return ""
	}
	var named struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(r.ToolChoice, &named) == nil && named.Function.Name != "" {
		return named.Function.Name
	}
	for _, t := range r.Tools {
		if t.Function.Name != "" {
			return t.Function.Name
		}
	}
	return ""
}

// chatAnswer is one chat completion, before a dialect renders it.
type chatAnswer struct {
	id          string
	created     int64
	model       string
	fingerprint string

	text   string   // assistant text, when tool is nil
	pieces []string // text split into stream deltas
	tool   *toolCall

	promptTokens, completionTokens int

	stream       bool
	includeUsage bool // stream_options.include_usage
	obfuscate    bool // stream_options.include_obfuscation, default true
}

type toolCall struct {
	id, name string
	// fragments are the streamed pieces of the arguments JSON.
	fragments []string
}

func (t *toolCall) arguments() string { return strings.Join(t.fragments, "") }

// toolArguments are the arguments of every emulated tool call.
const toolArguments = "{}"

// newChatAnswer builds the answer to req from model (OpenAI: the request's
// model; Azure: the deployment) and the reply text.
func newChatAnswer(req *chatRequest, model, text string) *chatAnswer {
	a := &chatAnswer{
		id:           "chatcmpl-" + randomAlnum(29),
		created:      time.Now().Unix(),
		model:        model,
		fingerprint:  fingerprint(model),
		promptTokens: estimateTokens(req.promptChars()),
		stream:       req.Stream,
		obfuscate:    true,
	}
	if so := req.StreamOptions; so != nil {
		a.includeUsage = so.IncludeUsage
		if so.IncludeObfuscation != nil {
			a.obfuscate = *so.IncludeObfuscation
		}
	}
	if name := req.toolToCall(); name != "" {
		a.tool = &toolCall{id: "call_" + randomAlnum(24), name: name, fragments: []string{toolArguments}}
		a.completionTokens = 1 + len(a.tool.fragments)
	} else {
		a.text = text
		a.pieces = pieces(text)
		a.completionTokens = len(a.pieces)
	}
	return a
}

func (a *chatAnswer) finishReason() string {
	if a.tool != nil {
		return "tool_calls"
	}
	return "stop"
}

// obfuscation is the padding OpenAI adds to stream chunks so that their size
// does not reveal the token: random letters making the delta's text up to
// 16 characters (14 on the role chunk, 10 on the finish chunk, none on the
// usage chunk, as in the recorded stream).
func obfuscation(n int) string {
	return randomAlnum(max(0, n))
}

// sseEvent frames one JSON payload as an SSE data event.
func sseEvent(payload []byte) []byte {
	ev := make([]byte, 0, len(payload)+8)
	ev = append(ev, "data: "...)
	ev = append(ev, payload...)
	return append(ev, "\n\n"...)
}

// doneEvent terminates OpenAI-style streams.
var doneEvent = []byte("data: [DONE]\n\n")

// embeddingsRequest is the part of an embeddings request the emulator reads.
type embeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          string          `json:"model"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
}

// defaultDimensions is the vector size when the request does not choose one
// (text-embedding-3-small's).
const defaultDimensions = 1536

// embeddingInput is one input to embed: its identity for the hash and its
// token count.
type embeddingInput struct {
	key    []byte
	tokens int
}

// embeddingInputs splits the input field: a string, an array of strings, an
// array of tokens (one input) or an array of token arrays (one input each).
func (x *exchange) embeddingInputs(raw json.RawMessage) ([]embeddingInput, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []embeddingInput{textInput(s)}, nil
	}
	var tokens []int64
	if json.Unmarshal(raw, &tokens) == nil && len(tokens) > 0 {
		return []embeddingInput{tokenInput(tokens)}, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) == nil && len(items) > 0 {
		var out []embeddingInput
		for _, it := range items {
			if json.Unmarshal(it, &s) == nil {
				out = append(out, textInput(s))
				continue
			}
			if json.Unmarshal(it, &tokens) == nil && len(tokens) > 0 {
				out = append(out, tokenInput(tokens))
				continue
			}
			return nil, x.dialect.badRequest("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", "input", "")
		}
		return out, nil
	}
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return nil, x.dialect.badRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter")
	}
	return nil, x.dialect.badRequest("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", "input", "")
}

func textInput(s string) embeddingInput {
	return embeddingInput{key: []byte(s), tokens: estimateTokens(utf8.RuneCountInString(s))}
}

func tokenInput(tokens []int64) embeddingInput {
	key, _ := json.Marshal(tokens)
	return embeddingInput{key: append([]byte("tokens:"), key...), tokens: len(tokens)}
}

// embeddingAnswer is an embeddings response before a dialect renders it.
type embeddingAnswer struct {
	model   string
	vectors [][]float32
	base64  bool
	tokens  int
}

// newEmbeddingAnswer decodes and validates the request and computes the
// vectors; model is the request's (OpenAI) or the deployment (Azure).
func (x *exchange) newEmbeddingAnswer(req *embeddingsRequest, model string) (*embeddingAnswer, error) {
	inputs, err := x.embeddingInputs(req.Input)
	if err != nil {
		return nil, err
	}
	dims := defaultDimensions
	if req.Dimensions != nil {
		dims = *req.Dimensions
		if dims < 1 || dims > 8192 {
			return nil, x.dialect.badRequest(fmt.Sprintf("Invalid value for 'dimensions' = %d. Must be between 1 and 8192.", dims), "dimensions", "")
		}
	}
	a := &embeddingAnswer{model: model}
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		a.base64 = true
	default:
		return nil, x.dialect.badRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'float' and 'base64'.", req.EncodingFormat), "encoding_format", "invalid_value")
	}
	for _, in := range inputs {
		a.vectors = append(a.vectors, unitVector(in.key, dims))
		a.tokens += in.tokens
	}
	return a, nil
}

// unitVector is a deterministic unit-length vector derived from a hash of
// key: the same input always embeds to the same vector.
func unitVector(key []byte, dims int) []float32 {
	h := fnv.New64a()
	h.Write(key)
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	v := make([]float64, dims)
	var norm float64
	for i := range v {
		v[i] = rng.NormFloat64()
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	for i := range v {
		out[i] = float32(v[i] / norm)
	}
	return out
}

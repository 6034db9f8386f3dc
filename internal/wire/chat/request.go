// Package chat is the canonical OpenAI Chat Completions representation
// every translator decodes into and encodes from (DESIGN.md §6): the
// request types a translator reads, the chat.completion types it writes,
// and the path-aware *ParamError helpers that name the offending member.
//
// Decoding is strict, with encoding/json/v2 semantics
// (github.com/go-json-experiment/json): a member the types do not list is
// rejected, named by its OpenAI parameter path. What a translator does with
// a decoded field — translate, drop or reject it — is its own business; a
// translator that needs a member typed more strictly (or more loosely)
// than Request types it embeds Request in a struct of its own and shadows
// that member, which encoding/json/v2 resolves by Go's depth rule.
package chat

import (
	"fmt"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Request is the OpenAI Chat Completions request
// (https://platform.openai.com/docs/api-reference/chat/create) as far as
// the translators read it. Any member not listed here is rejected.
//
// Members no translator types are kept as raw JSON (jsontext.Value), so
// that any value is accepted until a translator looks at it: Seed and
// ResponseFormat.JSONSchema are raw here; a translator that reads them
// shadows them with typed fields.
type Request struct {
	Model               jsontext.Value            `json:"model"`
	Messages            []Message                 `json:"messages"`
	Stream              *bool                     `json:"stream"`
	StreamOptions       jsontext.Value            `json:"stream_options"`
	MaxTokens           *int64                    `json:"max_tokens"`
	MaxCompletionTokens *int64                    `json:"max_completion_tokens"`
	Temperature         *float64                  `json:"temperature"`
	TopP                *float64                  `json:"top_p"`
	TopK                *int64                    `json:"top_k"`
	Stop                jsontext.Value            `json:"stop"`
	N                   *int64                    `json:"n"`
	Logprobs            *bool                     `json:"logprobs"`
	TopLogprobs         *int64                    `json:"top_logprobs"`
	FrequencyPenalty    *float64                  `json:"frequency_penalty"`
	PresencePenalty     *float64                  `json:"presence_penalty"`
	LogitBias           map[string]jsontext.Value `json:"logit_bias"`
	Seed                jsontext.Value            `json:"seed"`
	ServiceTier         jsontext.Value            `json:"service_tier"`
	Store               jsontext.Value            `json:"store"`
	Metadata            jsontext.Value            `json:"metadata"`
	PromptCacheKey      jsontext.Value            `json:"prompt_cache_key"`
	SafetyIdentifier    *string                   `json:"safety_identifier"`
	User                *string                   `json:"user"`
	Tools               []Tool                    `json:"tools"`
	ToolChoice          jsontext.Value            `json:"tool_choice"`
	ParallelToolCalls   *bool                     `json:"parallel_tool_calls"`
	ResponseFormat      *ResponseFormat           `json:"response_format"`
	ReasoningEffort     *string                   `json:"reasoning_effort"`
	Verbosity           *string                   `json:"verbosity"`
	Modalities          []string                  `json:"modalities"`
	Audio               jsontext.Value            `json:"audio"`
	Prediction          jsontext.Value            `json:"prediction"`
	WebSearchOptions    jsontext.Value            `json:"web_search_options"`
	Functions           jsontext.Value            `json:"functions"`
	FunctionCall        jsontext.Value            `json:"function_call"`
}

// ResponseFormat is a request's "response_format"; JSONSchema is raw.
type ResponseFormat struct {
	Type       string         `json:"type"`
	JSONSchema jsontext.Value `json:"json_schema"`
}

// Message is one entry of a request's "messages".
type Message struct {
	Role             string         `json:"role"`
	Content          jsontext.Value `json:"content"`
	Name             jsontext.Value `json:"name"`
	ToolCalls        []ToolCall     `json:"tool_calls"`
	ToolCallID       string         `json:"tool_call_id"`
	Refusal          *string        `json:"refusal"`
	ReasoningContent jsontext.Value `json:"reasoning_content"`
	FunctionCall     jsontext.Value `json:"function_call"`
	Audio            jsontext.Value `json:"audio"`
}

// ToolCall is one entry of an assistant message's "tool_calls".
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Part is one content part of a message. InputAudio and File are typed
// only when the Dialect asks for it (Dialect.MediaParts); otherwise they
// are accepted unread and left nil.
type Part struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
		Filename string `json:"filename"`
	} `json:"file"`
	Refusal string `json:"refusal"`
}

// uncheckedPart is a Part whose input_audio and file members are accepted
// whatever they hold: the shallower fields shadow Part's typed ones.
type uncheckedPart struct {
	Part
	InputAudio jsontext.Value `json:"input_audio"`
	File       jsontext.Value `json:"file"`
}

// Tool is one entry of a request's "tools".
type Tool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		Parameters  jsontext.Value `json:"parameters"`
		Strict      *bool          `json:"strict"`
	} `json:"function"`
	Custom jsontext.Value `json:"custom"`
}

// Dialect is what the shared decoding needs to know about the provider a
// translator writes for: the names its error messages use and how strictly
// it reads media parts.
type Dialect struct {
	// Models names the provider in rejections, as in
	// `"n" is not supported for <Models> models: …`.
	Models string
	// API names the provider's API in unknown-member errors, as in
	// `unknown parameter "x": it has no counterpart in <API>`.
	API string
	// MediaParts makes Parts type-check the input_audio and file members
	// of content parts, for a translator that translates them. When false
	// they are accepted unread (Part.InputAudio and Part.File stay nil):
	// such a translator rejects those part types by their "type".
	MediaParts bool
}

// Decode decodes an OpenAI request body into v, a *Request or a pointer
// to a struct embedding Request. Unknown members are rejected; every
// error is a *ParamError naming the member, or an *openai.SyntaxError
// for malformed JSON (see ParamErrorAt).
func (d Dialect) Decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(true)); err != nil {
		return d.ParamErrorAt("", err)
	}
	return nil
}

// IsNull reports whether v is absent (empty) or JSON null.
func IsNull(v jsontext.Value) bool {
	return len(v) == 0 || v.Kind() == 'n'
}

// Parts decodes a message content at path (such as "messages[2].content"):
// a string (one text part), an array of parts, or null/absent (none).
func (d Dialect) Parts(content jsontext.Value, path string) ([]Part, error) {
	if IsNull(content) {
		return nil, nil
	}
	switch content.Kind() {
	case '"':
		var s string
		if err := json.Unmarshal(content, &s); err != nil {
			return nil, d.ParamErrorAt(path, err)
		}
		return []Part{{Type: "text", Text: s}}, nil
	case '[':
		if d.MediaParts {
			var ps []Part
			if err := json.Unmarshal(content, &ps, json.RejectUnknownMembers(true)); err != nil {
				return nil, d.ParamErrorAt(path, err)
			}
			return ps, nil
		}
		var ups []uncheckedPart
		if err := json.Unmarshal(content, &ups, json.RejectUnknownMembers(true)); err != nil {
			return nil, d.ParamErrorAt(path, err)
		}
		ps := make([]Part, len(ups))
		for i := range ups {
			ps[i] = ups[i].Part
		}
		return ps, nil
	}
	return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be a string or an array of content parts, got %s", path, JSONKindName(content.Kind()))}
}

// TextParts returns the non-empty texts of a content that may only hold
// text (system, developer and tool messages); any other part is rejected.
func (d Dialect) TextParts(content jsontext.Value, path string) ([]string, error) {
	ps, err := d.Parts(content, path)
	if err != nil {
		return nil, err
	}
	var texts []string
	for j, p := range ps {
		if p.Type != "text" {
			return nil, d.Reject(fmt.Sprintf("%s[%d].type", path, j), fmt.Sprintf("this message may only contain text parts, got %q", p.Type))
		}
		if p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	return texts, nil
}

package anthropic

// The inbound direction, for the gateway's Anthropic endpoint
// (POST /v1/messages) when the chosen provider speaks OpenAI Chat
// Completions:
//
//   - FromMessagesRequest: a Messages request body → a chat request body;
//   - ToMessage: a chat.completion → a Message;
//   - InboundStream (inbound_stream.go): chat.completion.chunk SSE → Messages
//     SSE events, one chunk at a time;
//   - ErrorFromOpenAI, ErrorType, AppendError, AppendErrorEvent: errors in
//     the Anthropic shape.

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// inMessagesRequest is the Anthropic Messages request
// (https://docs.anthropic.com/en/api/messages) as far as
// FromMessagesRequest reads it. Any member not listed here is rejected.
type inMessagesRequest struct {
	Model     jsontext.Value `json:"model"`
	MaxTokens *int64         `json:"max_tokens"`
	System    jsontext.Value `json:"system"`
	Messages  []inTurn       `json:"messages"`
	Metadata  *struct {
		UserID *string `json:"user_id"`
	} `json:"metadata"`
	StopSequences []string         `json:"stop_sequences"`
	Stream        *bool            `json:"stream"`
	Temperature   *float64         `json:"temperature"`
	TopP          *float64         `json:"top_p"`
	TopK          *int64           `json:"top_k"`
	Thinking      *inThinking      `json:"thinking"`
	Tools         []jsontext.Value `json:"tools"` // inTool, decoded after its type is checked
	ToolChoice    *inToolChoice    `json:"tool_choice"`
	ServiceTier   jsontext.Value   `json:"service_tier"`
	CacheControl  jsontext.Value   `json:"cache_control"`
}

type inTurn struct {
	Role    string         `json:"role"`
	Content jsontext.Value `json:"content"`
}

// inBlock is an Anthropic request content block of any type; which
// members make sense depends on Type.
type inBlock struct {
	Type         string         `json:"type"`
	Text         string         `json:"text"`
	Citations    jsontext.Value `json:"citations"`
	Source       *inSource      `json:"source"`
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Input        jsontext.Value `json:"input"`
	ToolUseID    string         `json:"tool_use_id"`
	Content      jsontext.Value `json:"content"`
	IsError      *bool          `json:"is_error"`
	Thinking     string         `json:"thinking"`
	Signature    string         `json:"signature"`
	Data         string         `json:"data"`
	CacheControl jsontext.Value `json:"cache_control"`
}

type inSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
	URL       string `json:"url"`
	FileID    string `json:"file_id"`
}

type inThinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

type inTool struct {
	Type         string         `json:"type"`
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	InputSchema  jsontext.Value `json:"input_schema"`
	Strict       *bool          `json:"strict"`
	CacheControl jsontext.Value `json:"cache_control"`
}

type inToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use"`
}

// outChatRequest is the OpenAI chat request FromMessagesRequest writes.
type outChatRequest struct {
	Model             string         `json:"model"`
	Messages          []outMessage   `json:"messages"`
	MaxTokens         *int64         `json:"max_tokens,omitzero"`
	Temperature       *float64       `json:"temperature,omitzero"`
	TopP              *float64       `json:"top_p,omitzero"`
	TopK              *int64         `json:"top_k,omitzero"`
	Stop              []string       `json:"stop,omitzero"`
	User              string         `json:"user,omitzero"`
	Stream            bool           `json:"stream,omitzero"`
	StreamOptions     *streamOptions `json:"stream_options,omitzero"`
	Tools             []outTool      `json:"tools,omitzero"`
	ToolChoice        any            `json:"tool_choice,omitzero"` // string or outNamedChoice
	ParallelToolCalls *bool          `json:"parallel_tool_calls,omitzero"`
	ReasoningEffort   string         `json:"reasoning_effort,omitzero"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type outMessage struct {
	Role       string             `json:"role"`
	Content    any                `json:"content"` // string, []outPart or nil (null)
	ToolCalls  []chat.ToolCallOut `json:"tool_calls,omitzero"`
	ToolCallID string             `json:"tool_call_id,omitzero"`
}

type outPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitzero"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url,omitzero"`
}

type outTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string         `json:"name"`
		Description string         `json:"description,omitzero"`
		Parameters  jsontext.Value `json:"parameters"`
		Strict      *bool          `json:"strict,omitzero"`
	} `json:"function"`
}

type outNamedChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// FromMessagesRequest translates the Anthropic Messages request body body
// into an OpenAI Chat Completions request body for the upstream model
// model. The result is compact JSON.
//
// Messages: "system" (a string, or text blocks joined with "\n": several
// OpenAI-compatible servers' chat templates take only a string) becomes a
// first system message. A user turn's tool_result blocks become "tool"
// messages (tool_call_id = tool_use_id), placed before the user message
// that holds the turn's other blocks, as OpenAI wants tool answers right
// after the assistant message that called them; a tool_result's content
// (a string, or text blocks joined with "\n") is the tool message's
// string content, and is_error: true prefixes it with "Error: " (OpenAI
// has no error flag; the prefix keeps the signal in front of the model).
// Text blocks become text parts and image blocks image_url parts (a
// base64 source as a data: URL, a url source as that URL); a content that
// is one text block, or a string, is sent as a string. An assistant
// turn's text blocks become its content and its tool_use blocks its
// tool_calls (same id, input as compact JSON arguments; content is null
// when there is no text). A final assistant turn (Anthropic's prefill) is
// sent as a final assistant message; OpenAI servers answer after it
// rather than continuing it.
//
// Parameters: max_tokens → max_tokens (not max_completion_tokens, which
// many OpenAI-compatible servers do not accept; OpenAI's reasoning models
// reject max_tokens with a 400 that reaches the client); temperature and
// top_p unchanged; top_k passed through (vLLM, Together and others accept
// it; OpenAI rejects it with a 400); stop_sequences → stop;
// metadata.user_id → user; stream → stream, with
// stream_options.include_usage true so usage is always known; tools →
// function tools (input_schema → parameters, strict kept); tool_choice
// auto → "auto", any → "required", tool → {"type":"function",…}, none →
// "none"; disable_parallel_tool_use: true → parallel_tool_calls false;
// thinking enabled → reasoning_effort by budget_tokens (≤ 2048 "low",
// ≤ 8192 "medium", else "high"); thinking disabled or adaptive → no
// reasoning_effort (the server's default).
//
// Dropped, because they cannot change the answer:
//
//	model          replaced by the model argument
//	cache_control  (top level, on blocks and on tools) prompt-caching
//	               hints; OpenAI-compatible servers cache by prefix
//	               on their own, and report it as cached tokens
//	service_tier   Anthropic capacity class
//	thinking and redacted_thinking blocks in assistant turns
//	               OpenAI-compatible servers cannot take earlier
//	               reasoning back
//	citations      on text blocks: the text itself is sent
//	tool_choice    auto or none when there are no tools (a no-op that
//	               OpenAI would reject)
//
// Rejected with a *ParamError naming the field: block types other than
// text, image, tool_use, tool_result, thinking and redacted_thinking
// (document, search_result, server tool blocks, …); a block in the wrong
// turn (tool_use in a user turn, image or tool_result in an assistant
// turn); image file sources; non-text content in a tool_result; server tools (a tool
// with a "type" other than "custom"); tool_choice any or tool without
// tools; a role other than user or assistant; and any other unknown
// member (container, mcp_servers, context_management, …) or member of the
// wrong type. Malformed JSON is an *openai.SyntaxError.
func FromMessagesRequest(body []byte, model string) ([]byte, error) {
	var req inMessagesRequest
	if err := json.Unmarshal(body, &req, json.RejectUnknownMembers(true)); err != nil {
		return nil, inParamError("", err)
	}
	out := outChatRequest{Model: model}
	if err := translateInMessages(&req, &out); err != nil {
		return nil, err
	}
	if err := translateInParams(&req, &out); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&out, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("anthropic: encode chat request: %w", err)
	}
	return b, nil
}

func translateInParams(req *inMessagesRequest, out *outChatRequest) error {
	out.MaxTokens = req.MaxTokens
	out.Temperature = req.Temperature
	out.TopP = req.TopP
	out.TopK = req.TopK
	out.Stop = req.StopSequences
	if m := req.Metadata; m != nil && m.UserID != nil {
		out.User = *m.UserID
	}
	if req.Stream != nil && *req.Stream {
		out.Stream = true
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if t := req.Thinking; t != nil {
		switch t.Type {
		case "enabled":
			switch {
			case t.BudgetTokens <= 2048:
				out.ReasoningEffort = "low"
			case t.BudgetTokens <= 8192:
				out.ReasoningEffort = "medium"
			default:
				out.ReasoningEffort = "high"
			}
		case "disabled", "adaptive":
		default:
			return &ParamError{Param: "thinking.type", Msg: fmt.Sprintf(`"thinking.type" must be "enabled", "disabled" or "adaptive", got %q`, t.Type)}
		}
	}
	for i, raw := range req.Tools {
		p := "tools." + strconv.Itoa(i)
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return inParamError(p, err)
		}
		if head.Type != "" && head.Type != "custom" {
			return rejectIn(p+".type", fmt.Sprintf("server tool %q runs on Anthropic's side and has no counterpart at this provider; define a client tool instead", head.Type))
		}
		var t inTool
		if err := json.Unmarshal(raw, &t, json.RejectUnknownMembers(true)); err != nil {
			return inParamError(p, err)
		}
		if t.Name == "" {
			return &ParamError{Param: p + ".name", Msg: fmt.Sprintf("%q is required", p+".name")}
		}
		if chat.IsNull(t.InputSchema) {
			return &ParamError{Param: p + ".input_schema", Msg: fmt.Sprintf("%q is required", p+".input_schema")}
		}
		var o outTool
		o.Type = "function"
		o.Function.Name = t.Name
		o.Function.Description = t.Description
		o.Function.Parameters = t.InputSchema
		o.Function.Strict = t.Strict
		out.Tools = append(out.Tools, o)
	}
	if tc := req.ToolChoice; tc != nil {
		if len(out.Tools) == 0 {
			switch tc.Type {
			case "auto", "none":
				return nil
			}
		}
		switch tc.Type {
		case "auto":
			out.ToolChoice = "auto"
		case "any":
			out.ToolChoice = "required"
		case "none":
			out.ToolChoice = "none"
		case "tool":
			if tc.Name == "" {
				return &ParamError{Param: "tool_choice.name", Msg: `"tool_choice.name" is required when "tool_choice.type" is "tool"`}
			}
			var c outNamedChoice
			c.Type = "function"
			c.Function.Name = tc.Name
			out.ToolChoice = c
		default:
			return &ParamError{Param: "tool_choice.type", Msg: fmt.Sprintf(`"tool_choice.type" must be "auto", "any", "tool" or "none", got %q`, tc.Type)}
		}
		if len(out.Tools) == 0 {
			return &ParamError{Param: "tool_choice", Msg: fmt.Sprintf(`"tool_choice" of type %q requires "tools"`, tc.Type)}
		}
		if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse && tc.Type != "none" {
			f := false
			out.ParallelToolCalls = &f
		}
	}
	return nil
}

func translateInMessages(req *inMessagesRequest, out *outChatRequest) error {
	if len(req.Messages) == 0 {
		return &ParamError{Param: "messages", Msg: `"messages" is required and must not be empty`}
	}
	if !chat.IsNull(req.System) {
		texts, err := inTexts(req.System, "system")
		if err != nil {
			return err
		}
		if s := strings.Join(texts, "\n"); s != "" {
			out.Messages = append(out.Messages, outMessage{Role: "system", Content: s})
		}
	}
	for i, t := range req.Messages {
		p := "messages." + strconv.Itoa(i)
		blocks, err := inBlocks(t.Content, p+".content")
		if err != nil {
			return err
		}
		switch t.Role {
		case "user":
			if err := userTurn(blocks, p+".content", out); err != nil {
				return err
			}
		case "assistant":
			m, err := assistantTurn(blocks, p+".content")
			if err != nil {
				return err
			}
			out.Messages = append(out.Messages, m)
		case "":
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q is required", p+".role")}
		default:
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q must be \"user\" or \"assistant\", got %q", p+".role", t.Role)}
		}
	}
	return nil
}

// knownBlockTypes are the content block types FromMessagesRequest
// translates (or drops, for thinking) in some turn.
var knownBlockTypes = map[string]bool{
	"text": true, "image": true, "tool_use": true, "tool_result": true,
	"thinking": true, "redacted_thinking": true,
}

// inBlocks decodes a turn's content: a string (one text block) or an
// array of blocks.
func inBlocks(content jsontext.Value, path string) ([]inBlock, error) {
	switch content.Kind() {
	case '"':
		var s string
		if err := json.Unmarshal(content, &s); err != nil {
			return nil, inParamError(path, err)
		}
		return []inBlock{{Type: "text", Text: s}}, nil
	case '[':
		// The type first: a block of a type that is not translated is
		// rejected for its type, not for a member the union lacks.
		var raws []jsontext.Value
		if err := json.Unmarshal(content, &raws); err != nil {
			return nil, inParamError(path, err)
		}
		bs := make([]inBlock, len(raws))
		for j, raw := range raws {
			p := path + "." + strconv.Itoa(j)
			var head struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				return nil, inParamError(p, err)
			}
			if !knownBlockTypes[head.Type] {
				if head.Type == "" {
					return nil, &ParamError{Param: p + ".type", Msg: fmt.Sprintf("%q is required", p+".type")}
				}
				return nil, rejectIn(p+".type", fmt.Sprintf("%q blocks have no counterpart in the OpenAI Chat Completions API", head.Type))
			}
			if err := json.Unmarshal(raw, &bs[j], json.RejectUnknownMembers(true)); err != nil {
				return nil, inParamError(p, err)
			}
		}
		return bs, nil
	case 0:
		return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q is required", path)}
	}
	return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be a string or an array of content blocks, got %s", path, chat.JSONKindName(content.Kind()))}
}

// inTexts reads a content that may only hold text (system, tool_result)
// and returns its texts.
func inTexts(content jsontext.Value, path string) ([]string, error) {
	if chat.IsNull(content) {
		return nil, nil
	}
	blocks, err := inBlocks(content, path)
	if err != nil {
		return nil, err
	}
	texts := make([]string, 0, len(blocks))
	for j, b := range blocks {
		if b.Type != "text" {
			return nil, rejectIn(path+"."+strconv.Itoa(j)+".type", fmt.Sprintf("only text blocks can be translated here, got %q", b.Type))
		}
		texts = append(texts, b.Text)
	}
	return texts, nil
}

func userTurn(blocks []inBlock, path string, out *outChatRequest) error {
	var parts []outPart
	for j, b := range blocks {
		p := path + "." + strconv.Itoa(j)
		switch b.Type {
		case "text":
			parts = append(parts, outPart{Type: "text", Text: b.Text})
		case "image":
			part, err := imagePart(b.Source, p+".source")
			if err != nil {
				return err
			}
			parts = append(parts, part)
		case "tool_result":
			if b.ToolUseID == "" {
				return &ParamError{Param: p + ".tool_use_id", Msg: fmt.Sprintf("%q is required", p+".tool_use_id")}
			}
			texts, err := inTexts(b.Content, p+".content")
			if err != nil {
				return err
			}
			s := strings.Join(texts, "\n")
			if b.IsError != nil && *b.IsError {
				s = strings.TrimSuffix("Error: "+s, ": ")
			}
			out.Messages = append(out.Messages, outMessage{Role: "tool", Content: s, ToolCallID: b.ToolUseID})
		case "":
			return &ParamError{Param: p + ".type", Msg: fmt.Sprintf("%q is required", p+".type")}
		default:
			return rejectBlock(p, b.Type, "user")
		}
	}
	if len(parts) > 0 || len(blocks) == 0 {
		out.Messages = append(out.Messages, outMessage{Role: "user", Content: partsContent(parts)})
	}
	return nil
}

func assistantTurn(blocks []inBlock, path string) (outMessage, error) {
	m := outMessage{Role: "assistant"}
	var parts []outPart
	for j, b := range blocks {
		p := path + "." + strconv.Itoa(j)
		switch b.Type {
		case "text":
			parts = append(parts, outPart{Type: "text", Text: b.Text})
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return m, &ParamError{Param: p, Msg: fmt.Sprintf("%q needs an id and a name", p)}
			}
			args := jsontext.Value("{}")
			if !chat.IsNull(b.Input) {
				args = b.Input.Clone()
				if err := args.Compact(); err != nil {
					return m, &ParamError{Param: p + ".input", Msg: fmt.Sprintf("invalid %q: %v", p+".input", err)}
				}
				if args.Kind() != '{' {
					return m, &ParamError{Param: p + ".input", Msg: fmt.Sprintf("%q must be an object, got %s", p+".input", chat.JSONKindName(args.Kind()))}
				}
			}
			tc := chat.ToolCallOut{ID: b.ID, Type: "function"}
			tc.Function.Name = b.Name
			tc.Function.Arguments = string(args)
			m.ToolCalls = append(m.ToolCalls, tc)
		case "thinking", "redacted_thinking":
			// Dropped: see FromMessagesRequest.
		case "":
			return m, &ParamError{Param: p + ".type", Msg: fmt.Sprintf("%q is required", p+".type")}
		default:
			return m, rejectBlock(p, b.Type, "assistant")
		}
	}
	switch {
	case len(parts) > 0:
		m.Content = partsContent(parts)
	case len(m.ToolCalls) == 0:
		m.Content = ""
	}
	return m, nil
}

// partsContent is a message content: a lone text part as a string, else
// the parts.
func partsContent(parts []outPart) any {
	switch {
	case len(parts) == 0:
		return ""
	case len(parts) == 1 && parts[0].Type == "text":
		return parts[0].Text
	}
	return parts
}

func imagePart(src *inSource, path string) (outPart, error) {
	part := outPart{Type: "image_url"}
	part.ImageURL = &struct {
		URL string `json:"url"`
	}{}
	if src == nil {
		return part, &ParamError{Param: path, Msg: fmt.Sprintf("%q is required", path)}
	}
	switch src.Type {
	case "base64":
		if src.MediaType == "" || src.Data == "" {
			return part, &ParamError{Param: path, Msg: fmt.Sprintf("%q needs media_type and data", path)}
		}
		part.ImageURL.URL = "data:" + src.MediaType + ";base64," + src.Data
	case "url":
		if src.URL == "" {
			return part, &ParamError{Param: path + ".url", Msg: fmt.Sprintf("%q is required", path+".url")}
		}
		part.ImageURL.URL = src.URL
	case "file":
		return part, rejectIn(path+".type", "Anthropic Files API references cannot be resolved for this provider; send the image as base64 or url")
	default:
		return part, &ParamError{Param: path + ".type", Msg: fmt.Sprintf(`%q must be "base64" or "url", got %q`, path+".type", src.Type)}
	}
	return part, nil
}

func rejectBlock(path, typ, role string) error {
	switch typ {
	case "tool_use", "thinking", "redacted_thinking":
		if role == "user" {
			return &ParamError{Param: path + ".type", Msg: fmt.Sprintf("%q: %q blocks belong in assistant turns", path+".type", typ)}
		}
	case "tool_result", "image":
		if role == "assistant" {
			return &ParamError{Param: path + ".type", Msg: fmt.Sprintf("%q: %q blocks belong in user turns", path+".type", typ)}
		}
	}
	return rejectIn(path+".type", fmt.Sprintf("%q blocks have no counterpart in the OpenAI Chat Completions API", typ))
}

func rejectIn(param, why string) error {
	return &ParamError{Param: param, Msg: fmt.Sprintf("%q is not supported for this provider: %s", param, why)}
}

// inParamError converts a json.Unmarshal error for the value at path (an
// Anthropic parameter path such as "messages.2.content", "" for the top
// level) into a *ParamError naming the offending member, in the dotted
// form Anthropic's own errors use.
func inParamError(path string, err error) error {
	var se *json.SemanticError
	if !errors.As(err, &se) {
		return dialect.ParamErrorAt(path, err) // syntax errors read the same both ways
	}
	p := path
	for tok := range se.JSONPointer.Tokens() {
		if p != "" {
			p += "."
		}
		p += tok
	}
	if errors.Is(se.Err, json.ErrUnknownName) {
		return &ParamError{Param: p, Msg: fmt.Sprintf("unknown parameter %q: it has no counterpart in the OpenAI Chat Completions API of this provider", p)}
	}
	if se.JSONKind != 0 && se.GoType != nil {
		return &ParamError{Param: p, Msg: fmt.Sprintf("%q must be %s, got %s", p, chat.GoKindName(se.GoType), chat.JSONKindName(se.JSONKind))}
	}
	return &ParamError{Param: p, Msg: fmt.Sprintf("invalid %q: %v", chat.OrBody(p), se.Err)}
}

// inCompletion is an OpenAI chat.completion as far as ToMessage reads it;
// other members are ignored.
type inCompletion struct {
	ID      string `json:"id"`
	Choices []struct {
		Message struct {
			Content          jsontext.Value `json:"content"`
			ReasoningContent *string        `json:"reasoning_content"`
			Reasoning        *string        `json:"reasoning"`
			Refusal          *string        `json:"refusal"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *inUsage `json:"usage"`
}

type inUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *inUsage) usage() Usage {
	if u == nil {
		return Usage{}
	}
	out := Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
	if d := u.PromptTokensDetails; d != nil {
		out.CachedTokens = d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.ReasoningTokens = d.ReasoningTokens
	}
	return out
}

// outAnthropicMessage is the Anthropic Message ToMessage writes, members
// in the API's order.
type outAnthropicMessage struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []outBlock      `json:"content"`
	StopReason   string          `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"` // always null
	Usage        outMessageUsage `json:"usage"`
}

type outBlock struct {
	Type      string         `json:"type"`
	Thinking  *string        `json:"thinking,omitzero"`
	Signature *string        `json:"signature,omitzero"`
	Text      *string        `json:"text,omitzero"`
	ID        string         `json:"id,omitzero"`
	Name      *string        `json:"name,omitzero"`
	Input     jsontext.Value `json:"input,omitzero"`
}

type outMessageUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

// anthropicUsageOf splits OpenAI usage the Anthropic way: input_tokens
// excludes the cached tokens, which are cache_read_input_tokens.
func anthropicUsageOf(u Usage) outMessageUsage {
	return outMessageUsage{
		InputTokens:          max(u.PromptTokens-u.CachedTokens, 0),
		CacheReadInputTokens: u.CachedTokens,
		OutputTokens:         u.CompletionTokens,
	}
}

// ToMessage translates a non-streamed OpenAI chat.completion body into an
// Anthropic Message body (compact JSON) whose "model" is model, and
// returns its usage in OpenAI terms (PromptTokens includes CachedTokens;
// ReasoningTokens is completion_tokens_details.reasoning_tokens).
//
// Only choices[0] is read. The id is "msg_" plus the OpenAI id without
// its "chatcmpl-" prefix. Content blocks come in this order: a thinking
// block (signature "") from message.reasoning_content, or "reasoning" as
// OpenRouter, Groq and Ollama name it; a text block from message.content
// (a string, or the text parts of an array; none when empty); a text
// block from message.refusal; a tool_use block per tool call, with the
// arguments parsed into "input" ("" is {}). finish_reason maps stop →
// end_turn (also when a stop sequence ended the text, which OpenAI does
// not tell apart, so stop_sequence is always null), length → max_tokens,
// tool_calls and function_call → tool_use, content_filter → refusal, and
// anything else to end_turn; a refusal, or tool calls under any other
// reason, win. usage: input_tokens is prompt_tokens less cached_tokens,
// cache_read_input_tokens is cached_tokens, output_tokens is
// completion_tokens (reasoning included).
//
// An error means the body cannot be turned into a Message (not JSON, no
// choices, tool arguments that are not a JSON object): the gateway
// answers 502, as the upstream did not speak the API.
func ToMessage(body []byte, model string) (out []byte, usage Usage, err error) {
	var c inCompletion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, Usage{}, fmt.Errorf("anthropic: decode chat completion: %w", err)
	}
	if len(c.Choices) == 0 {
		return nil, Usage{}, errors.New("anthropic: decode chat completion: no choices")
	}
	ch := &c.Choices[0]
	msg := &ch.Message
	m := outAnthropicMessage{
		ID:         messageID(c.ID),
		Type:       "message",
		Role:       "assistant",
		Model:      model,
		Content:    []outBlock{},
		StopReason: "end_turn",
	}
	reasoning := msg.ReasoningContent
	if reasoning == nil || *reasoning == "" {
		reasoning = msg.Reasoning
	}
	if reasoning != nil && *reasoning != "" {
		sig := ""
		m.Content = append(m.Content, outBlock{Type: "thinking", Thinking: reasoning, Signature: &sig})
	}
	text, err := completionText(msg.Content)
	if err != nil {
		return nil, Usage{}, err
	}
	if text != "" {
		m.Content = append(m.Content, outBlock{Type: "text", Text: &text})
	}
	if msg.Refusal != nil && *msg.Refusal != "" {
		m.Content = append(m.Content, outBlock{Type: "text", Text: msg.Refusal})
	}
	for i, tc := range msg.ToolCalls {
		input := jsontext.Value("{}")
		if strings.TrimSpace(tc.Function.Arguments) != "" {
			input = jsontext.Value(tc.Function.Arguments)
			if err := input.Compact(); err != nil || input.Kind() != '{' {
				return nil, Usage{}, fmt.Errorf("anthropic: decode chat completion: tool call %d (%s) arguments are not a JSON object: %q", i, tc.Function.Name, tc.Function.Arguments)
			}
		}
		name := tc.Function.Name
		m.Content = append(m.Content, outBlock{Type: "tool_use", ID: toolUseID(tc.ID, i), Name: &name, Input: input})
	}
	finish := ""
	if ch.FinishReason != nil {
		finish = *ch.FinishReason
	}
	m.StopReason = stopReason(finish, len(msg.ToolCalls) > 0, msg.Refusal != nil && *msg.Refusal != "")
	usage = c.Usage.usage()
	m.Usage = anthropicUsageOf(usage)
	out, err = json.Marshal(&m, json.Deterministic(true))
	if err != nil {
		return nil, Usage{}, fmt.Errorf("anthropic: encode message: %w", err)
	}
	return out, usage, nil
}

// completionText reads message.content: a string, null, or an array of
// parts whose "text" members are joined (Mistral's reasoning models).
func completionText(content jsontext.Value) (string, error) {
	var s string
	switch content.Kind() {
	case '"':
		if err := json.Unmarshal(content, &s); err != nil {
			return "", fmt.Errorf("anthropic: decode chat completion: content: %w", err)
		}
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(content, &parts); err != nil {
			return "", fmt.Errorf("anthropic: decode chat completion: content: %w", err)
		}
		for _, p := range parts {
			if p.Type == "text" {
				s += p.Text
			}
		}
	}
	return s, nil
}

// messageID makes an Anthropic message id from an OpenAI completion id.
func messageID(id string) string {
	return "msg_" + strings.TrimPrefix(id, "chatcmpl-")
}

// toolUseID keeps the upstream tool call id; servers that send none get
// one made from the call's position, as Anthropic requires an id.
func toolUseID(id string, i int) string {
	if id != "" {
		return id
	}
	return "toolu_" + strconv.Itoa(i)
}

// stopReason maps an OpenAI finish_reason to an Anthropic stop_reason.
// Some servers (Ollama, vLLM) report "stop" with tool calls; the client
// must still see tool_use to run them.
func stopReason(finish string, toolCalls, refusal bool) string {
	switch {
	case finish == "content_filter" || refusal:
		return "refusal"
	case finish == "length":
		return "max_tokens"
	case finish == "tool_calls" || finish == "function_call" || toolCalls:
		return "tool_use"
	}
	return "end_turn"
}

// ErrorType returns the Anthropic error type for an HTTP status
// (https://docs.anthropic.com/en/api/errors): 400 invalid_request_error,
// 401 authentication_error, 402 billing_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 504
// timeout_error, 503 and 529 overloaded_error; any other 4xx is
// invalid_request_error and anything else api_error.
func ErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// ErrorFromOpenAI maps an upstream OpenAI-shaped error, its HTTP status
// and body, to the status, Anthropic error type and message the gateway's
// Anthropic endpoint answers with. The status is kept when it is a 4xx or
// 5xx and the type follows it (ErrorType), so OpenAI's 401
// "invalid_request_error" becomes authentication_error and a 429
// insufficient_quota stays a 429 rate_limit_error (DESIGN.md §4). The
// message is the upstream's, unchanged. ok is false when body is not an
// OpenAI error (openai.ParseError) or status is not an error status: the
// caller then answers 502 api_error with a message of its own.
func ErrorFromOpenAI(status int, body []byte) (outStatus int, typ, message string, ok bool) {
	e, ok := openai.ParseError(body)
	if !ok || status < 400 || status > 599 {
		return http.StatusBadGateway, "api_error", "", false
	}
	return status, ErrorType(status), e.Message, true
}

// AppendError appends the Anthropic error body
// {"type":"error","error":{"type":…,"message":…},"request_id":…} to dst
// and returns the extended buffer. request_id is null when requestID is
// empty. Strings are JSON-escaped (invalid UTF-8 becomes U+FFFD).
func AppendError(dst []byte, typ, message, requestID string) []byte {
	dst = appendErrorObject(dst, typ, message)
	dst = append(dst, `,"request_id":`...)
	if requestID == "" {
		dst = append(dst, "null"...)
	} else {
		dst, _ = jsontext.AppendQuote(dst, requestID)
	}
	return append(dst, '}')
}

// AppendErrorEvent appends the SSE event Anthropic ends a failed stream
// with, "event: error\ndata: {"type":"error","error":{…}}\n\n"
// (DESIGN.md §5), and returns the extended buffer.
func AppendErrorEvent(dst []byte, typ, message string) []byte {
	dst = append(dst, "event: error\ndata: "...)
	dst = appendErrorObject(dst, typ, message)
	return append(dst, "}\n\n"...)
}

// appendErrorObject appends {"type":"error","error":{…} without the
// closing brace of the outer object.
func appendErrorObject(dst []byte, typ, message string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst, _ = jsontext.AppendQuote(dst, typ)
	dst = append(dst, `,"message":`...)
	dst, _ = jsontext.AppendQuote(dst, message)
	return append(dst, '}')
}

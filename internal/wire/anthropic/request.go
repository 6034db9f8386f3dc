// Package anthropic translates between the OpenAI Chat Completions dialect
// and the Anthropic Messages API (https://docs.anthropic.com/en/api/messages)
// for the path "OpenAI client → Anthropic provider":
//
//   - ToMessages: an OpenAI chat request body → a Messages request body;
//   - FromMessage: a Messages response → an OpenAI chat.completion;
//   - Stream: Messages SSE events → chat.completion.chunk SSE events, one
//     event at a time and without buffering;
//   - ParseError: an Anthropic error body → OpenAI error fields and status.
//
// A request field is either translated, dropped because it cannot change
// the answer (listed in the ToMessages doc), or rejected with a
// *ParamError that names it; nothing that matters is dropped silently.
//
// Non-streamed bodies are decoded and encoded with encoding/json/v2
// semantics (github.com/go-json-experiment/json); the stream translator
// walks each event with jsontext and copies JSON strings through without
// unquoting them, so it does not allocate per event.
package anthropic

import (
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// Options configures ToMessages.
type Options struct {
	// DefaultMaxTokens is the Anthropic max_tokens sent when the OpenAI
	// request has neither max_completion_tokens nor max_tokens (Anthropic
	// requires it). Zero or less means 4096.
	DefaultMaxTokens int64
}

// defaultMaxTokens is the max_tokens used when Options gives none.
const defaultMaxTokens = 4096

// messagesRequest is the Anthropic Messages request ToMessages writes;
// members are in the order the Anthropic SDKs send them.
type messagesRequest struct {
	Model         string      `json:"model"`
	MaxTokens     int64       `json:"max_tokens"`
	System        any         `json:"system,omitzero"` // string or []block
	Messages      []turn      `json:"messages"`
	Metadata      *metadata   `json:"metadata,omitzero"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Stream        bool        `json:"stream,omitzero"`
	Temperature   *float64    `json:"temperature,omitzero"`
	TopP          *float64    `json:"top_p,omitzero"`
	TopK          *int64      `json:"top_k,omitzero"`
	Thinking      *thinking   `json:"thinking,omitzero"`
	Tools         []tool      `json:"tools,omitzero"`
	ToolChoice    *toolChoice `json:"tool_choice,omitzero"`
}

type turn struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is an Anthropic content block: text, image, tool_use or
// tool_result.
type block struct {
	Type      string         `json:"type"`
	Text      string         `json:"text,omitzero"`
	Source    *imageSource   `json:"source,omitzero"`
	ID        string         `json:"id,omitzero"`
	Name      string         `json:"name,omitzero"`
	Input     jsontext.Value `json:"input,omitzero"`
	ToolUseID string         `json:"tool_use_id,omitzero"`
	Content   any            `json:"content,omitzero"` // tool_result: string or []block
}

type imageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitzero"`
	Data      string `json:"data,omitzero"`
	URL       string `json:"url,omitzero"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

type thinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

type tool struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitzero"`
	InputSchema jsontext.Value `json:"input_schema"`
	Strict      bool           `json:"strict,omitzero"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitzero"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitzero"`
}

// ToMessages translates the OpenAI Chat Completions request body
// openaiBody into an Anthropic Messages request body for the upstream
// model model. The result is compact JSON.
//
// Messages: system and developer messages, wherever they appear, become
// the top-level "system" (a string, or text blocks when there are
// several); user and assistant messages become turns, and consecutive
// messages of the same role are merged into one turn, as Anthropic
// requires alternation. Text parts become text blocks (empty text is
// skipped: Anthropic rejects empty text blocks); image_url parts become
// image blocks, a data: URL as a base64 source and an http(s) URL as a url
// source ("detail" has no counterpart and is ignored); assistant
// tool_calls become tool_use blocks with the same id and the arguments
// JSON parsed into "input"; "tool" messages become tool_result blocks in
// a user turn, placed before any other block of that turn as Anthropic
// requires. An assistant message's "refusal" is sent as text.
//
// Parameters: max_completion_tokens (else max_tokens, else
// opt.DefaultMaxTokens) → max_tokens; temperature (Anthropic allows 0–1);
// top_p; top_k (an extension OpenAI lacks); stop → stop_sequences;
// safety_identifier, else user → metadata.user_id; stream; tools →
// tools (function.strict is passed through as "strict", which Anthropic
// honours with structured outputs); tool_choice "auto", "required",
// "none", {"type":"function",…} → {"type":"auto"|"any"|"none"|"tool"};
// parallel_tool_calls false → tool_choice.disable_parallel_tool_use;
// reasoning_effort minimal|low → thinking budget 1024, medium → 4096,
// high → 16384, none → no thinking; response_format json_schema → a tool
// named json_schema.name (else "json_response") whose input_schema is
// json_schema.schema (description and strict passed through), forced with
// tool_choice {"type":"tool"}, and json_object → the same with the name
// "json_response" and the schema {"type":"object"}, as other gateways do:
// the caller gets the call back as content with FromMessageJSON or
// NewStreamJSON, passing the name JSONToolName reports. Thinking counts
// against max_tokens on both APIs, so an explicit max tokens is kept as
// the cap and the budget lowered to fit under it (an error when that
// leaves less than 1024); with no explicit cap, max_tokens is the budget
// plus the default.
//
// Dropped, because they cannot change the answer:
//
//	model             replaced by the model argument
//	stream_options    Anthropic streams always report usage; the caller
//	                  decides whether to show it (NewStream)
//	service_tier      latency/billing class of the OpenAI account
//	store, metadata   storage of the completion on OpenAI's side
//	prompt_cache_key  OpenAI cache-routing hint; Anthropic caches by
//	                  prefix
//	messages[].name   participant name: no Anthropic field; OpenAI
//	                  documents it only to tell participants apart
//	messages[].reasoning_content
//	                  earlier thinking cannot be replayed to Anthropic
//	                  without its signature
//	n: 1, logprobs: false, top_logprobs: 0, frequency_penalty: 0,
//	presence_penalty: 0, logit_bias: {}, modalities: ["text"],
//	verbosity: "medium", response_format {"type":"text"}
//	                  the defaults, which Anthropic has too
//
// Rejected with a *ParamError naming the field: seed (no counterpart, and
// it asks for repeatable answers); n > 1; logprobs;
// top_logprobs; non-zero frequency_penalty or presence_penalty;
// logit_bias; audio and non-text modalities; prediction;
// web_search_options; verbosity other than medium; response_format
// json_object or json_schema together with tools the model may call
// (tool_choice other than "none": two tools cannot be forced), with a
// tool of the same name as the JSON tool, or with reasoning_effort
// (Anthropic forbids a forced tool with thinking); the deprecated
// functions and function_call (use tools and
// tool_choice); temperature above 1; input_audio and file parts; non-
// function tools; tool_choice without tools; and, with reasoning_effort,
// a temperature other than 1, top_k, top_p below 0.95 or a forced tool
// choice, which Anthropic does not allow with thinking. Any other unknown
// member, or a member of the wrong type, is rejected too. Malformed JSON
// is an *openai.SyntaxError.
func ToMessages(openaiBody []byte, model string, opt Options) ([]byte, error) {
	var req chat.Request
	if err := dialect.Decode(openaiBody, &req); err != nil {
		return nil, err
	}
	out := messagesRequest{Model: model}
	if err := translateParams(&req, &out, opt); err != nil {
		return nil, err
	}
	if err := translateMessages(req.Messages, &out); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&out, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("anthropic: encode request: %w", err)
	}
	return b, nil
}

// JSONToolName returns the name of the tool ToMessages forces to honour
// the response_format (json_object or json_schema) of the OpenAI request
// body openaiBody, and true; or "", false when the request asks for no
// JSON answer. Pass the name to FromMessageJSON or NewStreamJSON.
func JSONToolName(openaiBody []byte) (string, bool) { return chat.JSONToolName(openaiBody) }

func translateParams(req *chat.Request, out *messagesRequest, opt Options) error {
	if err := dialect.CheckRequest(req); err != nil {
		return err
	}
	// Options with no Anthropic counterpart: only their defaults pass.
	switch {
	case !chat.IsNull(req.Seed):
		return dialect.Reject("seed", "Anthropic has no seed, so its answers cannot be made repeatable; remove seed for this model")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return dialect.Reject("frequency_penalty", "Anthropic has no repetition penalties; remove it or set it to 0")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return dialect.Reject("presence_penalty", "Anthropic has no repetition penalties; remove it or set it to 0")
	}
	jt, err := dialect.JSONTool(req.ResponseFormat)
	if err != nil {
		return err
	}

	// Sampling.
	if t := req.Temperature; t != nil {
		if *t < 0 || *t > 1 {
			return &ParamError{Param: "temperature", Msg: fmt.Sprintf(`"temperature" must be between 0 and 1 for Anthropic models, got %v`, *t)}
		}
		out.Temperature = t
	}
	out.TopP = req.TopP
	out.TopK = req.TopK
	if !chat.IsNull(req.Stop) {
		switch req.Stop.Kind() {
		case '"':
			var s string
			if err := json.Unmarshal(req.Stop, &s); err != nil {
				return dialect.ParamErrorAt("stop", err)
			}
			out.StopSequences = []string{s}
		default:
			if err := json.Unmarshal(req.Stop, &out.StopSequences); err != nil {
				return dialect.ParamErrorAt("stop", err)
			}
		}
	}
	if req.Stream != nil {
		out.Stream = *req.Stream
	}
	switch {
	case req.SafetyIdentifier != nil && *req.SafetyIdentifier != "":
		out.Metadata = &metadata{UserID: *req.SafetyIdentifier}
	case req.User != nil && *req.User != "":
		out.Metadata = &metadata{UserID: *req.User}
	}

	// Tools.
	for i, t := range req.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" || t.Function == nil {
			return dialect.Reject(p+".type", fmt.Sprintf("only function tools are translated, got %q", t.Type))
		}
		f := t.Function
		if f.Name == "" {
			return &ParamError{Param: p + ".function.name", Msg: fmt.Sprintf("%q is required", p+".function.name")}
		}
		schema := f.Parameters
		if chat.IsNull(schema) {
			schema = jsontext.Value(`{"type":"object","properties":{}}`)
		} else if schema.Kind() != '{' {
			return &ParamError{Param: p + ".function.parameters", Msg: fmt.Sprintf("%q must be a JSON Schema object", p+".function.parameters")}
		} else if err := schema.Compact(); err != nil {
			return dialect.ParamErrorAt(p+".function.parameters", err)
		}
		out.Tools = append(out.Tools, tool{
			Name:        f.Name,
			Description: f.Description,
			InputSchema: schema,
			Strict:      f.Strict != nil && *f.Strict,
		})
	}
	if err := translateToolChoice(req, out, jt); err != nil {
		return err
	}

	// Token limits and thinking.
	maxTokens, explicit := opt.DefaultMaxTokens, false
	if maxTokens <= 0 {
		maxTokens = defaultMaxTokens
	}
	maxParam := "max_tokens"
	switch {
	case req.MaxCompletionTokens != nil:
		maxTokens, explicit, maxParam = *req.MaxCompletionTokens, true, "max_completion_tokens"
	case req.MaxTokens != nil:
		maxTokens, explicit = *req.MaxTokens, true
	}
	if maxTokens < 1 {
		return &ParamError{Param: maxParam, Msg: fmt.Sprintf("%q must be at least 1, got %d", maxParam, maxTokens)}
	}
	out.MaxTokens = maxTokens
	if e := req.ReasoningEffort; e != nil && *e != "none" {
		budget, ok := chat.ClaudeThinking[*e]
		if !ok {
			return &ParamError{Param: "reasoning_effort", Msg: fmt.Sprintf(`"reasoning_effort" must be one of none, minimal, low, medium or high for Anthropic models, got %q`, *e)}
		}
		switch {
		case jt != nil:
			return &ParamError{Param: "response_format", Msg: fmt.Sprintf(`"response_format" %q cannot be combined with reasoning_effort for Anthropic models: it is honoured by forcing a tool call, which Anthropic does not allow with extended thinking; set reasoning_effort to "none" or describe the format in the prompt`, req.ResponseFormat.Type)}
		case req.Temperature != nil && *req.Temperature != 1:
			return dialect.Reject("temperature", "with reasoning_effort (extended thinking) Anthropic requires temperature 1 or none")
		case req.TopK != nil:
			return dialect.Reject("top_k", "Anthropic does not allow top_k with reasoning_effort (extended thinking)")
		case req.TopP != nil && *req.TopP < 0.95:
			return dialect.Reject("top_p", "with reasoning_effort (extended thinking) Anthropic requires top_p between 0.95 and 1")
		case out.ToolChoice != nil && (out.ToolChoice.Type == "any" || out.ToolChoice.Type == "tool"):
			return dialect.Reject("tool_choice", `with reasoning_effort (extended thinking) Anthropic only allows tool_choice "auto" or "none"`)
		}
		if explicit {
			// OpenAI's cap includes reasoning tokens, as Anthropic's
			// does: keep the caller's cap, shrink the budget.
			budget = min(budget, maxTokens-1)
			if budget < 1024 {
				return &ParamError{Param: maxParam, Msg: fmt.Sprintf("%q must be more than 1024 with reasoning_effort: Anthropic's smallest thinking budget is 1024 tokens and counts against it", maxParam)}
			}
		} else {
			out.MaxTokens = budget + maxTokens
		}
		out.Thinking = &thinking{Type: "enabled", BudgetTokens: budget}
	}
	return nil
}

// translateToolChoice translates tool_choice and parallel_tool_calls; with
// jt (response_format json_object or json_schema) it adds jt as a tool and
// forces it instead.
func translateToolChoice(req *chat.Request, out *messagesRequest, jt *chat.JSONTool) error {
	var tc *toolChoice
	if !chat.IsNull(req.ToolChoice) {
		switch req.ToolChoice.Kind() {
		case '"':
			var s string
			if err := json.Unmarshal(req.ToolChoice, &s); err != nil {
				return dialect.ParamErrorAt("tool_choice", err)
			}
			switch s {
			case "auto":
				tc = &toolChoice{Type: "auto"}
			case "required":
				tc = &toolChoice{Type: "any"}
			case "none":
				tc = &toolChoice{Type: "none"}
			default:
				return &ParamError{Param: "tool_choice", Msg: fmt.Sprintf(`"tool_choice" must be "auto", "required", "none" or an object, got %q`, s)}
			}
		case '{':
			var c struct {
				Type     string `json:"type"`
				Function *struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if err := json.Unmarshal(req.ToolChoice, &c); err != nil {
				return dialect.ParamErrorAt("tool_choice", err)
			}
			if c.Type != "function" {
				return dialect.Reject("tool_choice.type", fmt.Sprintf("only function tool choices are translated, got %q", c.Type))
			}
			if c.Function == nil || c.Function.Name == "" {
				return &ParamError{Param: "tool_choice.function.name", Msg: `"tool_choice.function.name" is required`}
			}
			tc = &toolChoice{Type: "tool", Name: c.Function.Name}
		default:
			return &ParamError{Param: "tool_choice", Msg: fmt.Sprintf(`"tool_choice" must be a string or an object, got %s`, chat.JSONKindName(req.ToolChoice.Kind()))}
		}
	}
	if jt != nil {
		return forceJSONTool(req, out, tc, jt)
	}
	if len(out.Tools) == 0 {
		if tc != nil && tc.Type != "none" {
			return &ParamError{Param: "tool_choice", Msg: `"tool_choice" is only allowed when "tools" are given`}
		}
		return nil // nothing to choose from; parallel_tool_calls is moot
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		if tc == nil {
			tc = &toolChoice{Type: "auto"}
		}
		if tc.Type != "none" {
			tc.DisableParallelToolUse = true
		}
	}
	out.ToolChoice = tc
	return nil
}

// forceJSONTool honours response_format json_object or json_schema as
// other gateways do: jt becomes a tool the model is forced to call, and
// FromMessageJSON or NewStreamJSON turn that call back into content. The
// request's own tools may stay (the conversation may refer to them) only
// with tool_choice "none": Anthropic forces one tool at most, and the
// model may not call another one in JSON mode.
func forceJSONTool(req *chat.Request, out *messagesRequest, tc *toolChoice, jt *chat.JSONTool) error {
	if (tc != nil && tc.Type != "none") || (tc == nil && len(out.Tools) > 0) {
		return &ParamError{Param: "response_format", Msg: fmt.Sprintf(`"response_format" %q cannot be combined with tools the model may call: it is honoured by forcing a tool call, and Anthropic cannot force two tools or a tool and a JSON answer; set "tool_choice" to "none" or drop response_format`, req.ResponseFormat.Type)}
	}
	for i, t := range out.Tools {
		if t.Name == jt.Name {
			param := "response_format"
			if req.ResponseFormat.Type == "json_schema" && jt.Name != chat.DefaultJSONToolName {
				param = "response_format.json_schema.name"
			}
			return &ParamError{Param: param, Msg: fmt.Sprintf(`%q: the JSON answer is carried by a tool named %q, which "tools[%d]" already uses; rename one of them`, param, jt.Name, i)}
		}
	}
	out.Tools = append(out.Tools, tool{
		Name:        jt.Name,
		Description: jt.Description,
		InputSchema: jt.Schema,
		Strict:      jt.Strict,
	})
	out.ToolChoice = &toolChoice{Type: "tool", Name: jt.Name}
	return nil
}

func translateMessages(msgs []chat.Message, out *messagesRequest) error {
	var system []string
	for i, m := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		if err := dialect.CheckMessage(m, p); err != nil {
			return err
		}
		switch m.Role {
		case "system", "developer":
			texts, err := dialect.TextParts(m.Content, p+".content")
			if err != nil {
				return err
			}
			system = append(system, texts...)
		case "user":
			blocks, err := userBlocks(m.Content, p+".content")
			if err != nil {
				return err
			}
			if len(blocks) == 0 {
				return &ParamError{Param: p + ".content", Msg: fmt.Sprintf("%q must not be empty for Anthropic models", p+".content")}
			}
			out.Messages = appendTurn(out.Messages, "user", blocks...)
		case "assistant":
			blocks, err := assistantBlocks(m, p)
			if err != nil {
				return err
			}
			// An assistant message with neither text nor tool calls says
			// nothing; Anthropic rejects empty turns.
			if len(blocks) > 0 {
				out.Messages = appendTurn(out.Messages, "assistant", blocks...)
			}
		case "tool":
			if m.ToolCallID == "" {
				return &ParamError{Param: p + ".tool_call_id", Msg: fmt.Sprintf("%q is required", p+".tool_call_id")}
			}
			texts, err := dialect.TextParts(m.Content, p+".content")
			if err != nil {
				return err
			}
			b := block{Type: "tool_result", ToolUseID: m.ToolCallID}
			switch {
			case len(texts) == 1 && m.Content.Kind() == '"':
				b.Content = texts[0]
			case len(texts) > 0:
				parts := make([]block, len(texts))
				for j, t := range texts {
					parts[j] = block{Type: "text", Text: t}
				}
				b.Content = parts
			}
			out.Messages = appendTurn(out.Messages, "user", b)
		case "":
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q is required", p+".role")}
		default:
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q must be system, developer, user, assistant or tool, got %q", p+".role", m.Role)}
		}
	}
	if len(out.Messages) == 0 {
		return &ParamError{Param: "messages", Msg: `"messages" must contain at least one user or assistant message for Anthropic models`}
	}
	// Anthropic requires a turn's tool_result blocks to come before its
	// other blocks.
	for i := range out.Messages {
		if out.Messages[i].Role == "user" {
			toolResultsFirst(out.Messages[i].Content)
		}
	}
	switch len(system) {
	case 0:
	case 1:
		out.System = system[0]
	default:
		blocks := make([]block, len(system))
		for i, s := range system {
			blocks[i] = block{Type: "text", Text: s}
		}
		out.System = blocks
	}
	return nil
}

// appendTurn adds blocks to the last turn when it has the same role, else
// starts a new turn.
func appendTurn(turns []turn, role string, blocks ...block) []turn {
	if n := len(turns); n > 0 && turns[n-1].Role == role {
		turns[n-1].Content = append(turns[n-1].Content, blocks...)
		return turns
	}
	return append(turns, turn{Role: role, Content: blocks})
}

// toolResultsFirst moves the tool_result blocks to the front, keeping the
// order within both groups.
func toolResultsFirst(blocks []block) {
	var results, others []block
	for _, b := range blocks {
		if b.Type == "tool_result" {
			results = append(results, b)
		} else {
			others = append(others, b)
		}
	}
	if len(results) == 0 || len(others) == 0 {
		return
	}
	copy(blocks, results)
	copy(blocks[len(results):], others)
}

func userBlocks(content jsontext.Value, path string) ([]block, error) {
	ps, err := dialect.Parts(content, path)
	if err != nil {
		return nil, err
	}
	blocks := make([]block, 0, len(ps))
	for j, p := range ps {
		pp := fmt.Sprintf("%s[%d]", path, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				blocks = append(blocks, block{Type: "text", Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, &ParamError{Param: pp + ".image_url", Msg: fmt.Sprintf("%q is required", pp+".image_url")}
			}
			src, err := imageFromURL(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, block{Type: "image", Source: src})
		case "input_audio":
			return nil, dialect.Reject(pp+".type", "Anthropic models do not accept audio input")
		case "file":
			return nil, dialect.Reject(pp+".type", "file parts are not translated for Anthropic providers yet")
		default:
			return nil, &ParamError{Param: pp + ".type", Msg: fmt.Sprintf("unknown content part type %q in %q", p.Type, pp)}
		}
	}
	return blocks, nil
}

func assistantBlocks(m chat.Message, path string) ([]block, error) {
	ps, err := dialect.Parts(m.Content, path+".content")
	if err != nil {
		return nil, err
	}
	var blocks []block
	for j, p := range ps {
		switch p.Type {
		case "text":
			if p.Text != "" {
				blocks = append(blocks, block{Type: "text", Text: p.Text})
			}
		case "refusal":
			if p.Refusal != "" {
				blocks = append(blocks, block{Type: "text", Text: p.Refusal})
			}
		default:
			return nil, dialect.Reject(fmt.Sprintf("%s.content[%d].type", path, j), fmt.Sprintf("assistant messages may only contain text and refusal parts, got %q", p.Type))
		}
	}
	if m.Refusal != nil && *m.Refusal != "" {
		blocks = append(blocks, block{Type: "text", Text: *m.Refusal})
	}
	for j, tc := range m.ToolCalls {
		p := fmt.Sprintf("%s.tool_calls[%d]", path, j)
		if tc.Type != "function" {
			return nil, dialect.Reject(p+".type", fmt.Sprintf("only function tool calls are translated, got %q", tc.Type))
		}
		if tc.ID == "" || tc.Function.Name == "" {
			return nil, &ParamError{Param: p, Msg: fmt.Sprintf("%q needs an id and a function name", p)}
		}
		input, err := toolInput(tc.Function.Arguments, p+".function.arguments")
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return blocks, nil
}

// toolInput parses OpenAI's arguments string into Anthropic's input
// object; "" (a call without arguments) is {}.
func toolInput(args, path string) (jsontext.Value, error) {
	if strings.TrimSpace(args) == "" {
		return jsontext.Value("{}"), nil
	}
	v := jsontext.Value(args).Clone()
	if err := v.Compact(); err != nil {
		return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be a JSON object in a string, as the model produced it: %v", path, err)}
	}
	if v.Kind() != '{' {
		return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be a JSON object in a string, got %s", path, chat.JSONKindName(v.Kind()))}
	}
	return v, nil
}

// anthropicMediaTypes are the image types Anthropic accepts.
var anthropicMediaTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// imageFromURL turns an OpenAI image URL into an Anthropic image source:
// a base64 data: URL inline, an http(s) URL by reference.
func imageFromURL(url, path string) (*imageSource, error) {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mediaType, enc, _ := strings.Cut(meta, ";")
		if !ok || enc != "base64" {
			return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be a base64 data URL (data:image/png;base64,…)", path)}
		}
		mediaType = strings.ToLower(mediaType)
		if !anthropicMediaTypes[mediaType] {
			return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q has media type %q; Anthropic accepts image/jpeg, image/png, image/gif and image/webp", path, mediaType)}
		}
		return &imageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	lower := strings.ToLower(url)
	if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
		return &imageSource{Type: "url", URL: url}, nil
	}
	return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be an http(s) URL or a base64 data URL", path)}
}

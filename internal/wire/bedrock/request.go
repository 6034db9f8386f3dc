// Package bedrock translates between the OpenAI Chat Completions dialect
// and Amazon Bedrock's Converse and ConverseStream APIs
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html)
// for the path "OpenAI client → Bedrock provider":
//
//   - ToConverse: an OpenAI chat request body → a Converse request body
//     (the model id goes in the URL, not the body);
//   - FromConverse: a Converse response → an OpenAI chat.completion;
//   - Decoder: the binary application/vnd.amazon.eventstream framing of
//     ConverseStream, whatever the HTTP chunking, with both CRCs checked;
//   - Stream: eventstream frames → chat.completion.chunk SSE events, one
//     frame at a time and without buffering;
//   - ParseError: a Bedrock error (type in x-amzn-ErrorType) → OpenAI error
//     fields and status;
//   - Sign: SigV4 signing of the upstream request (service "bedrock").
//
// A request field is either translated, dropped because it cannot change
// the answer (listed in the ToConverse doc), or rejected with a
// *ParamError that names it; nothing that matters is dropped silently.
package bedrock

import (
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// Options configures ToConverse.
type Options struct {
	// DefaultMaxTokens is the inferenceConfig.maxTokens sent when the
	// OpenAI request has neither max_completion_tokens nor max_tokens.
	// Zero or less sends none, and the model's own default applies —
	// except with reasoning_effort, where 4096 is added to the thinking
	// budget (thinking counts against maxTokens).
	DefaultMaxTokens int64
}

// defaultAnswerTokens is the room left for the answer above a thinking
// budget when neither the request nor Options give a maximum.
const defaultAnswerTokens = 4096

// chatRequest is the OpenAI Chat Completions request as far as ToConverse
// reads it: chat.Request with "top_k" (rejected whatever its value),
// "safety_identifier" and "user" (dropped) taken as any JSON value. Any
// member not listed is rejected.
type chatRequest struct {
	chat.Request
	TopK             jsontext.Value `json:"top_k"`
	SafetyIdentifier jsontext.Value `json:"safety_identifier"`
	User             jsontext.Value `json:"user"`
}

// converseRequest is the Converse request body ToConverse writes, members
// in the order boto3 sends them (fixtures/bedrock/*.request.json).
type converseRequest struct {
	Messages                     []message         `json:"messages"`
	System                       []block           `json:"system,omitzero"`
	InferenceConfig              inferenceConfig   `json:"inferenceConfig"`
	ToolConfig                   *toolConfig       `json:"toolConfig,omitzero"`
	AdditionalModelRequestFields *additionalFields `json:"additionalModelRequestFields,omitzero"`
}

type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is a Converse ContentBlock (and SystemContentBlock): exactly one
// member is set.
type block struct {
	Text       string      `json:"text,omitzero"`
	Image      *image      `json:"image,omitzero"`
	ToolUse    *toolUse    `json:"toolUse,omitzero"`
	ToolResult *toolResult `json:"toolResult,omitzero"`
}

type image struct {
	Format string `json:"format"`
	Source struct {
		Bytes string `json:"bytes"` // base64, as the JSON protocol carries blobs
	} `json:"source"`
}

type toolUse struct {
	ToolUseID string         `json:"toolUseId"`
	Name      string         `json:"name"`
	Input     jsontext.Value `json:"input"`
}

type toolResult struct {
	ToolUseID string          `json:"toolUseId"`
	Content   []resultContent `json:"content"`
}

type resultContent struct {
	Text string         `json:"text,omitzero"`
	JSON jsontext.Value `json:"json,omitzero"`
}

type inferenceConfig struct {
	MaxTokens     int64    `json:"maxTokens,omitzero"`
	Temperature   *float64 `json:"temperature,omitzero"`
	TopP          *float64 `json:"topP,omitzero"`
	StopSequences []string `json:"stopSequences,omitzero"`
}

type toolConfig struct {
	Tools      []tool      `json:"tools"`
	ToolChoice *toolChoice `json:"toolChoice,omitzero"`
}

type tool struct {
	ToolSpec toolSpec `json:"toolSpec"`
}

type toolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitzero"`
	InputSchema struct {
		JSON jsontext.Value `json:"json"`
	} `json:"inputSchema"`
}

type empty struct{}

type toolChoice struct {
	Auto *empty `json:"auto,omitzero"`
	Any  *empty `json:"any,omitzero"`
	Tool *struct {
		Name string `json:"name"`
	} `json:"tool,omitzero"`
}

type additionalFields struct {
	Thinking *thinking `json:"thinking,omitzero"`
}

type thinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens"`
}

// ToConverse translates the OpenAI Chat Completions request body
// openaiBody into a Bedrock Converse (or ConverseStream: the body is the
// same) request body. The model id is not part of it: the caller puts it,
// URL-encoded, in the path /model/{modelId}/converse[-stream]. The result
// is compact JSON.
//
// Messages: system and developer messages, wherever they appear, become
// "system" text blocks; user and assistant messages become messages with
// content blocks, consecutive messages of the same role merged into one
// (Bedrock requires alternation, starting with a user message). Empty text
// is skipped (Bedrock rejects blank text blocks). image_url parts with a
// base64 data: URL become image blocks {format: png|jpeg|gif|webp,
// source: {bytes}}; http(s) image URLs are rejected for now — Converse
// takes only inline bytes or S3 locations, and the gateway's allowlisted
// fetcher is not wired yet ("detail" has no counterpart and is ignored).
// Assistant tool_calls become toolUse blocks {toolUseId, name, input} with
// the arguments parsed; "tool" messages become toolResult blocks in a user
// message, with the content as one text block, or as a json block when it
// is a string holding a JSON object. An assistant "refusal" is sent as
// text.
//
// Parameters: max_completion_tokens (else max_tokens, else
// opt.DefaultMaxTokens) → inferenceConfig.maxTokens; temperature;
// top_p → topP; stop → stopSequences; tools → toolConfig.tools[].toolSpec
// {name, description, inputSchema.json}; tool_choice "auto" → {auto:{}},
// "required" → {any:{}}, {"type":"function",…} → {tool:{name}} (Bedrock
// accepts any/tool for Anthropic and Mistral models only and says so);
// tool_choice "none" has no Converse counterpart and is honoured by not
// sending the tools at all, which Bedrock refuses when the conversation
// already holds tool calls or results — that case is rejected. Bedrock
// also requires toolConfig whenever the messages hold tool calls, so tool
// history without "tools" is rejected. reasoning_effort minimal|low →
// 1024, medium → 4096, high → 16384 thinking tokens, sent as
// additionalModelRequestFields.thinking {type: enabled, budget_tokens} —
// Claude's extended thinking on Bedrock; other models reject the field
// upstream. Thinking counts against maxTokens: an explicit maximum is kept
// and the budget lowered under it (an error below 1024); otherwise
// maxTokens is the budget plus the default. "none" sends no thinking.
// response_format json_schema → a toolSpec named json_schema.name (else
// "json_response") whose inputSchema.json is json_schema.schema (with its
// description; "strict" has no Converse counterpart and is dropped),
// forced with toolChoice {tool:{name}}, and json_object → the same with
// the name "json_response" and the schema {"type":"object"}, as other
// gateways do: the caller gets the call back as content with
// FromConverseJSON or NewStreamJSON, passing the name JSONToolName
// reports. Like any forced tool choice it needs a model that accepts one
// (Anthropic, Mistral); others reject it upstream.
//
// Dropped, because they cannot change the answer:
//
//	model             the model id goes in the URL
//	stream            the caller picks /converse or /converse-stream
//	stream_options    ConverseStream always reports usage; the caller
//	                  decides whether to show it (NewStream)
//	service_tier, store, metadata, prompt_cache_key, user,
//	safety_identifier OpenAI account-side features
//	messages[].name   participant name; no Converse field
//	messages[].reasoning_content
//	                  earlier thinking cannot be replayed without its
//	                  signature
//	parallel_tool_calls: true, n: 1, logprobs: false, top_logprobs: 0,
//	frequency_penalty: 0, presence_penalty: 0, logit_bias: {},
//	modalities: ["text"], verbosity: "medium", response_format "text"
//	                  the defaults, which Bedrock has too
//
// Rejected with a *ParamError naming the field: seed (no counterpart, and
// it asks for repeatable answers); n > 1; logprobs;
// top_logprobs; non-zero penalties; logit_bias; top_k (model-specific on
// Bedrock); audio and non-text modalities; prediction; web_search_options;
// verbosity other than medium; response_format json_object or
// json_schema together with tools the model may call (tool_choice other
// than "none": two tools cannot be forced), with a tool of the same name
// as the JSON tool, or with reasoning_effort (Claude forbids a forced tool
// with thinking); parallel_tool_calls false; the deprecated
// functions and function_call; input_audio and file parts; http(s) image
// URLs; non-function tools; tool_choice without tools; a conversation that
// starts with an assistant message; with reasoning_effort, a temperature
// other than 1, top_p below 0.95 or a forced tool choice (Claude does not
// allow them with thinking). Any other unknown member, or a member of the
// wrong type, is rejected too. Malformed JSON is an *openai.SyntaxError.
func ToConverse(openaiBody []byte, opt Options) ([]byte, error) {
	var req chatRequest
	if err := dialect.Decode(openaiBody, &req); err != nil {
		return nil, err
	}
	var out converseRequest
	if err := translateParams(&req, &out, opt); err != nil {
		return nil, err
	}
	if err := translateMessages(req.Messages, &out); err != nil {
		return nil, err
	}
	if err := checkToolHistory(&req, &out); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&out, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode request: %w", err)
	}
	return b, nil
}

// JSONToolName returns the name of the tool ToConverse forces to honour
// the response_format (json_object or json_schema) of the OpenAI request
// body openaiBody, and true; or "", false when the request asks for no
// JSON answer. Pass the name to FromConverseJSON or NewStreamJSON.
func JSONToolName(openaiBody []byte) (string, bool) { return chat.JSONToolName(openaiBody) }

func translateParams(req *chatRequest, out *converseRequest, opt Options) error {
	if err := dialect.CheckRequest(&req.Request); err != nil {
		return err
	}
	switch {
	case !chat.IsNull(req.Seed):
		return dialect.Reject("seed", "Converse has no seed, so its answers cannot be made repeatable; remove seed for this model")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return dialect.Reject("frequency_penalty", "Converse has no repetition penalties; remove it or set it to 0")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return dialect.Reject("presence_penalty", "Converse has no repetition penalties; remove it or set it to 0")
	case !chat.IsNull(req.TopK):
		return dialect.Reject("top_k", "top_k is model-specific on Bedrock and not translated")
	case req.ParallelToolCalls != nil && !*req.ParallelToolCalls:
		return dialect.Reject("parallel_tool_calls", "Converse cannot turn off parallel tool use")
	}
	jt, err := dialect.JSONTool(req.ResponseFormat)
	if err != nil {
		return err
	}

	ic := &out.InferenceConfig
	if t := req.Temperature; t != nil {
		if *t < 0 || *t > 1 {
			return &ParamError{Param: "temperature", Msg: fmt.Sprintf(`"temperature" must be between 0 and 1 for Bedrock models, got %v`, *t)}
		}
		ic.Temperature = t
	}
	ic.TopP = req.TopP
	if !chat.IsNull(req.Stop) {
		if req.Stop.Kind() == '"' {
			var s string
			if err := json.Unmarshal(req.Stop, &s); err != nil {
				return dialect.ParamErrorAt("stop", err)
			}
			ic.StopSequences = []string{s}
		} else if err := json.Unmarshal(req.Stop, &ic.StopSequences); err != nil {
			return dialect.ParamErrorAt("stop", err)
		}
	}

	if err := translateTools(req, out, jt); err != nil {
		return err
	}

	maxTokens, explicit, maxParam := opt.DefaultMaxTokens, false, "max_tokens"
	switch {
	case req.MaxCompletionTokens != nil:
		maxTokens, explicit, maxParam = *req.MaxCompletionTokens, true, "max_completion_tokens"
	case req.MaxTokens != nil:
		maxTokens, explicit = *req.MaxTokens, true
	}
	if explicit && maxTokens < 1 {
		return &ParamError{Param: maxParam, Msg: fmt.Sprintf("%q must be at least 1, got %d", maxParam, maxTokens)}
	}
	ic.MaxTokens = max(maxTokens, 0)
	if e := req.ReasoningEffort; e != nil && *e != "none" {
		budget, ok := chat.ClaudeThinking[*e]
		if !ok {
			return &ParamError{Param: "reasoning_effort", Msg: fmt.Sprintf(`"reasoning_effort" must be one of none, minimal, low, medium or high for Bedrock models, got %q`, *e)}
		}
		switch {
		case jt != nil:
			return &ParamError{Param: "response_format", Msg: fmt.Sprintf(`"response_format" %q cannot be combined with reasoning_effort for Bedrock models: it is honoured by forcing a tool call, which Claude does not allow with extended thinking; set reasoning_effort to "none" or describe the format in the prompt`, req.ResponseFormat.Type)}
		case req.Temperature != nil && *req.Temperature != 1:
			return dialect.Reject("temperature", "with reasoning_effort (extended thinking) Claude requires temperature 1 or none")
		case req.TopP != nil && *req.TopP < 0.95:
			return dialect.Reject("top_p", "with reasoning_effort (extended thinking) Claude requires top_p between 0.95 and 1")
		case out.ToolConfig != nil && out.ToolConfig.ToolChoice != nil && out.ToolConfig.ToolChoice.Auto == nil:
			return dialect.Reject("tool_choice", `with reasoning_effort (extended thinking) Claude only allows tool_choice "auto" or "none"`)
		}
		if explicit {
			budget = min(budget, maxTokens-1)
			if budget < 1024 {
				return &ParamError{Param: maxParam, Msg: fmt.Sprintf("%q must be more than 1024 with reasoning_effort: the smallest thinking budget is 1024 tokens and counts against it", maxParam)}
			}
		} else {
			room := maxTokens
			if room <= 0 {
				room = defaultAnswerTokens
			}
			ic.MaxTokens = budget + room
		}
		out.AdditionalModelRequestFields = &additionalFields{Thinking: &thinking{Type: "enabled", BudgetTokens: budget}}
	}
	return nil
}

// translateTools translates tools and tool_choice; with jt
// (response_format json_object or json_schema) it adds jt as a tool and
// forces it instead.
func translateTools(req *chatRequest, out *converseRequest, jt *chat.JSONTool) error {
	var tools []tool
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
		ts := toolSpec{Name: f.Name, Description: f.Description}
		ts.InputSchema.JSON = schema
		tools = append(tools, tool{ToolSpec: ts})
	}

	var tc *toolChoice
	none := false
	if !chat.IsNull(req.ToolChoice) {
		switch req.ToolChoice.Kind() {
		case '"':
			var s string
			if err := json.Unmarshal(req.ToolChoice, &s); err != nil {
				return dialect.ParamErrorAt("tool_choice", err)
			}
			switch s {
			case "auto":
				tc = &toolChoice{Auto: &empty{}}
			case "required":
				tc = &toolChoice{Any: &empty{}}
			case "none":
				none = true
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
			tc = &toolChoice{Tool: &struct {
				Name string `json:"name"`
			}{c.Function.Name}}
		default:
			return &ParamError{Param: "tool_choice", Msg: fmt.Sprintf(`"tool_choice" must be a string or an object, got %s`, chat.JSONKindName(req.ToolChoice.Kind()))}
		}
	}
	if jt != nil {
		return forceJSONTool(req, out, tools, tc, none, jt)
	}
	if len(tools) == 0 {
		if tc != nil {
			return &ParamError{Param: "tool_choice", Msg: `"tool_choice" is only allowed when "tools" are given`}
		}
		return nil
	}
	if none {
		return nil // see checkToolHistory
	}
	out.ToolConfig = &toolConfig{Tools: tools, ToolChoice: tc}
	return nil
}

// forceJSONTool honours response_format json_object or json_schema as
// other gateways do: jt becomes a tool the model is forced to call
// (toolChoice {tool:{name}}), and FromConverseJSON or NewStreamJSON turn
// that call back into content. The request's own tools may stay only with
// tool_choice "none" — and then are sent, since the forced tool already
// keeps the model from calling them and Bedrock needs them for any tool
// history: Converse forces one tool at most.
func forceJSONTool(req *chatRequest, out *converseRequest, tools []tool, tc *toolChoice, none bool, jt *chat.JSONTool) error {
	if tc != nil || (len(tools) > 0 && !none) {
		return &ParamError{Param: "response_format", Msg: fmt.Sprintf(`"response_format" %q cannot be combined with tools the model may call: it is honoured by forcing a tool call, and Bedrock cannot force two tools or a tool and a JSON answer; set "tool_choice" to "none" or drop response_format`, req.ResponseFormat.Type)}
	}
	for i, t := range tools {
		if t.ToolSpec.Name == jt.Name {
			param := "response_format"
			if req.ResponseFormat.Type == "json_schema" && jt.Name != chat.DefaultJSONToolName {
				param = "response_format.json_schema.name"
			}
			return &ParamError{Param: param, Msg: fmt.Sprintf(`%q: the JSON answer is carried by a tool named %q, which "tools[%d]" already uses; rename one of them`, param, jt.Name, i)}
		}
	}
	ts := toolSpec{Name: jt.Name, Description: jt.Description}
	ts.InputSchema.JSON = jt.Schema
	out.ToolConfig = &toolConfig{
		Tools: append(tools, tool{ToolSpec: ts}),
		ToolChoice: &toolChoice{Tool: &struct {
			Name string `json:"name"`
		}{jt.Name}},
	}
	return nil
}

// checkToolHistory enforces Bedrock's rule that toolUse and toolResult
// blocks need a toolConfig, which tool_choice "none" leaves out.
func checkToolHistory(req *chatRequest, out *converseRequest) error {
	if out.ToolConfig != nil {
		return nil
	}
	for _, m := range out.Messages {
		for _, b := range m.Content {
			if b.ToolUse == nil && b.ToolResult == nil {
				continue
			}
			if len(req.Tools) > 0 {
				return dialect.Reject("tool_choice", `"none" cannot be honoured on Bedrock once the conversation holds tool calls: Converse has no "none" and needs the tools sent; use "auto"`)
			}
			return &ParamError{Param: "tools", Msg: `"tools" is required by Bedrock when the conversation holds tool calls or tool results`}
		}
	}
	return nil
}

func translateMessages(msgs []chat.Message, out *converseRequest) error {
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
			for _, t := range texts {
				out.System = append(out.System, block{Text: t})
			}
		case "user":
			blocks, err := userBlocks(m.Content, p+".content")
			if err != nil {
				return err
			}
			if len(blocks) == 0 {
				return &ParamError{Param: p + ".content", Msg: fmt.Sprintf("%q must not be empty for Bedrock models", p+".content")}
			}
			out.Messages = appendTurn(out.Messages, "user", blocks...)
		case "assistant":
			blocks, err := assistantBlocks(m, p)
			if err != nil {
				return err
			}
			if len(blocks) > 0 {
				if len(out.Messages) == 0 {
					return &ParamError{Param: p + ".role", Msg: "a Bedrock conversation must start with a user message"}
				}
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
			out.Messages = appendTurn(out.Messages, "user", block{ToolResult: &toolResult{
				ToolUseID: m.ToolCallID,
				Content:   resultContents(m.Content, texts),
			}})
		case "":
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q is required", p+".role")}
		default:
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q must be system, developer, user, assistant or tool, got %q", p+".role", m.Role)}
		}
	}
	if len(out.Messages) == 0 {
		return &ParamError{Param: "messages", Msg: `"messages" must contain at least one user or assistant message for Bedrock models`}
	}
	return nil
}

// resultContents is the content of a toolResult: one json block when the
// tool answered a JSON object as a string, else its texts; a tool that
// answered nothing gets one " " text block, since Bedrock wants at least
// one block and rejects blank text.
func resultContents(content jsontext.Value, texts []string) []resultContent {
	if content.Kind() == '"' && len(texts) == 1 {
		v := jsontext.Value(strings.TrimSpace(texts[0]))
		if v.Kind() == '{' && v.IsValid() {
			v = v.Clone()
			if v.Compact() == nil {
				return []resultContent{{JSON: v}}
			}
		}
	}
	if len(texts) == 0 {
		return []resultContent{{Text: " "}}
	}
	out := make([]resultContent, len(texts))
	for i, t := range texts {
		out[i] = resultContent{Text: t}
	}
	return out
}

// appendTurn adds blocks to the last message when it has the same role,
// else starts a new one.
func appendTurn(msgs []message, role string, blocks ...block) []message {
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, message{Role: role, Content: blocks})
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
				blocks = append(blocks, block{Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, &ParamError{Param: pp + ".image_url", Msg: fmt.Sprintf("%q is required", pp+".image_url")}
			}
			img, err := imageFromURL(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, block{Image: img})
		case "input_audio":
			return nil, dialect.Reject(pp+".type", "Converse models do not accept audio input")
		case "file":
			return nil, dialect.Reject(pp+".type", "file parts are not translated for Bedrock providers yet")
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
				blocks = append(blocks, block{Text: p.Text})
			}
		case "refusal":
			if p.Refusal != "" {
				blocks = append(blocks, block{Text: p.Refusal})
			}
		default:
			return nil, dialect.Reject(fmt.Sprintf("%s.content[%d].type", path, j), fmt.Sprintf("assistant messages may only contain text and refusal parts, got %q", p.Type))
		}
	}
	if m.Refusal != nil && *m.Refusal != "" {
		blocks = append(blocks, block{Text: *m.Refusal})
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
		blocks = append(blocks, block{ToolUse: &toolUse{ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
	}
	return blocks, nil
}

// toolInput parses OpenAI's arguments string into Converse's input
// document; "" (a call without arguments) is {}.
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

// imageFormats maps the media types Converse accepts to its format names.
var imageFormats = map[string]string{
	"image/png":  "png",
	"image/jpeg": "jpeg",
	"image/jpg":  "jpeg",
	"image/gif":  "gif",
	"image/webp": "webp",
}

// imageFromURL turns a base64 data: URL into a Converse image block.
// http(s) URLs are refused: Converse has no URL source, and fetching on
// the client's behalf needs the gateway's allowlisted fetcher.
func imageFromURL(url, path string) (*image, error) {
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		lower := strings.ToLower(url)
		if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
			return nil, dialect.Reject(path, "image URLs are not fetched for Bedrock providers (fetch not supported yet); send the image as a base64 data URL")
		}
		return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be a base64 data URL", path)}
	}
	meta, data, ok := strings.Cut(rest, ",")
	mediaType, enc, _ := strings.Cut(meta, ";")
	if !ok || enc != "base64" {
		return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q must be a base64 data URL (data:image/png;base64,…)", path)}
	}
	format, ok := imageFormats[strings.ToLower(mediaType)]
	if !ok {
		return nil, &ParamError{Param: path, Msg: fmt.Sprintf("%q has media type %q; Bedrock accepts image/png, image/jpeg, image/gif and image/webp", path, mediaType)}
	}
	img := &image{Format: format}
	img.Source.Bytes = data
	return img, nil
}

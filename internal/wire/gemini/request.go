// Package gemini translates between the OpenAI Chat Completions dialect
// and Google's Gemini API (generativelanguage.googleapis.com v1beta,
// https://ai.google.dev/api/generate-content) for the path "OpenAI client →
// Gemini provider". Vertex AI takes the same request and response JSON
// under another URL and OAuth credentials, so the same functions serve it:
//
//   - ToGemini: an OpenAI chat request body → a generateContent body (the
//     model goes in the URL, not the body);
//   - FromGemini: a GenerateContentResponse → an OpenAI chat.completion;
//   - Stream: the payloads of streamGenerateContent?alt=sse →
//     chat.completion.chunk SSE events, one payload at a time;
//   - ParseError: a google.rpc.Status error body → OpenAI error fields,
//     status and retry delay.
//
// A request field is translated, dropped because it cannot change the
// answer (listed in the ToGemini doc), or rejected with a *ParamError that
// names it; nothing that matters is dropped silently.
package gemini

import (
	"fmt"
	"path"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// Options configures ToGemini. It has no fields yet; the zero value is the
// only configuration.
type Options struct{}

// thinkingBudget maps reasoning_effort to thinkingConfig.thinkingBudget in
// tokens; "none" sends a budget of 0, which turns thinking off on the
// models that allow it (2.5 Flash and Flash-Lite; 2.5 Pro answers 400).
var thinkingBudget = map[string]int64{
	"none":    0,
	"minimal": 1024,
	"low":     1024,
	"medium":  8192,
	"high":    24576,
}

// chatRequest is the OpenAI Chat Completions request as far as ToGemini
// reads it: chat.Request with "seed" and "response_format.json_schema",
// which Gemini translates, typed (a wrongly typed one is rejected while
// decoding). Any member not listed is rejected.
type chatRequest struct {
	chat.Request
	Seed           *int64 `json:"seed"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name        string         `json:"name"`
			Description string         `json:"description"`
			Schema      jsontext.Value `json:"schema"`
			Strict      *bool          `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

// generateRequest is the generateContent body ToGemini writes, members in
// the order of the Gemini docs and SDKs.
type generateRequest struct {
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction,omitzero"`
	Tools             []geminiTool      `json:"tools,omitzero"`
	ToolConfig        *toolConfig       `json:"toolConfig,omitzero"`
	GenerationConfig  *generationConfig `json:"generationConfig,omitzero"`
}

type content struct {
	Role  string `json:"role,omitzero"`
	Parts []part `json:"parts"`
}

// part is one Gemini Part: exactly one of its members is set.
type part struct {
	Text             *string           `json:"text,omitzero"`
	InlineData       *blob             `json:"inlineData,omitzero"`
	FileData         *fileData         `json:"fileData,omitzero"`
	FunctionCall     *functionCall     `json:"functionCall,omitzero"`
	FunctionResponse *functionResponse `json:"functionResponse,omitzero"`
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type fileData struct {
	MimeType string `json:"mimeType,omitzero"`
	FileURI  string `json:"fileUri"`
}

type functionCall struct {
	Name string         `json:"name"`
	Args jsontext.Value `json:"args"`
}

type functionResponse struct {
	Name     string         `json:"name"`
	Response jsontext.Value `json:"response"`
}

type geminiTool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

type functionDeclaration struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitzero"`
	Parameters  jsontext.Value `json:"parameters,omitzero"`
}

type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

type functionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitzero"`
}

type generationConfig struct {
	StopSequences    []string        `json:"stopSequences,omitempty"`
	ResponseMimeType string          `json:"responseMimeType,omitzero"`
	ResponseSchema   jsontext.Value  `json:"responseSchema,omitzero"`
	MaxOutputTokens  *int64          `json:"maxOutputTokens,omitzero"`
	Temperature      *float64        `json:"temperature,omitzero"`
	TopP             *float64        `json:"topP,omitzero"`
	TopK             *int64          `json:"topK,omitzero"`
	Seed             *int64          `json:"seed,omitzero"`
	PresencePenalty  *float64        `json:"presencePenalty,omitzero"`
	FrequencyPenalty *float64        `json:"frequencyPenalty,omitzero"`
	ThinkingConfig   *thinkingConfig `json:"thinkingConfig,omitzero"`
}

func (g *generationConfig) isZero() bool {
	return len(g.StopSequences) == 0 && g.ResponseMimeType == "" && len(g.ResponseSchema) == 0 &&
		g.MaxOutputTokens == nil && g.Temperature == nil && g.TopP == nil && g.TopK == nil &&
		g.Seed == nil && g.PresencePenalty == nil && g.FrequencyPenalty == nil && g.ThinkingConfig == nil
}

type thinkingConfig struct {
	IncludeThoughts bool  `json:"includeThoughts,omitzero"`
	ThinkingBudget  int64 `json:"thinkingBudget"`
}

// ToGemini translates the OpenAI Chat Completions request body openaiBody
// into a Gemini generateContent (or streamGenerateContent) request body,
// compact JSON. The model is not in the body: the caller puts it in the
// URL, and "stream" decides which method it calls.
//
// Messages: system and developer messages, wherever they appear, become
// the parts of "systemInstruction"; user and assistant messages become
// contents with role "user" and "model", consecutive ones of the same role
// merged into one (tool results count as user). Text parts become text
// parts (empty text is skipped); image_url parts with a base64 data: URL
// become inlineData {mimeType, data}, and http(s) URLs fileData {fileUri,
// mimeType} with the type guessed from the URL's extension (.png, .jpg,
// .jpeg, .gif, .webp, .heic, .heif, .pdf; image/jpeg when unknown) — the
// Gemini API itself fetches only URLs it can reach (Files API, Cloud
// Storage on Vertex, public http on newer models), so an unreachable URL
// is the provider's 400, not ours; "detail" has no counterpart and is
// ignored. input_audio parts become inlineData audio/wav or audio/mp3;
// file parts with file_data (a data: URL) become inlineData. Assistant
// tool_calls become functionCall parts with the arguments JSON parsed into
// "args"; "tool" messages become functionResponse parts named after the
// matching earlier tool call (by tool_call_id), whose "response" is
// {"result": <object>} when the content is a JSON object and
// {"content": <text>} otherwise. Gemini has no call ids, so none are sent;
// results are matched to calls by name and order.
//
// Parameters: temperature; top_p → topP; top_k → topK (an extension OpenAI
// lacks); max_completion_tokens, else max_tokens → maxOutputTokens; stop →
// stopSequences; seed; presence_penalty → presencePenalty;
// frequency_penalty → frequencyPenalty; response_format json_object →
// responseMimeType "application/json", json_schema → the same plus
// responseSchema (see cleanSchema for the JSON Schema subset Gemini
// accepts); tools → one tools entry with functionDeclarations {name,
// description, parameters} (parameters cleaned the same way); tool_choice
// "auto", "none", "required", {"type":"function",…} →
// toolConfig.functionCallingConfig mode AUTO, NONE, ANY, and ANY with
// allowedFunctionNames; reasoning_effort minimal|low → thinkingBudget
// 1024, medium → 8192, high → 24576, each with includeThoughts so the
// thoughts come back as reasoning_content, and none → thinkingBudget 0.
//
// Dropped, because they cannot change the answer:
//
//	model, stream     the model is in the URL; stream picks the method
//	stream_options    Gemini reports usage on every stream event; the
//	                  caller decides whether to show it (NewStream)
//	service_tier, store, metadata, prompt_cache_key
//	                  OpenAI account-side options
//	user, safety_identifier
//	                  end-user ids for OpenAI's abuse monitoring; Gemini
//	                  has no such field
//	messages[].name   participant name, no Gemini field
//	messages[].reasoning_content
//	                  earlier thoughts cannot be replayed to Gemini
//	                  without their thoughtSignature
//	tools[].function.strict
//	                  Gemini has no switch; declarations are always used
//	n: 1, logprobs: false, top_logprobs: 0, logit_bias: {},
//	parallel_tool_calls: true, modalities: ["text"], verbosity: "medium",
//	response_format {"type":"text"}
//	                  the defaults, which Gemini has too
//
// Rejected with a *ParamError naming the field: n > 1 (one candidate per
// request is all the translator returns); logprobs and top_logprobs;
// logit_bias; audio and non-text modalities; prediction;
// web_search_options; verbosity other than medium; parallel_tool_calls
// false (Gemini may always call several functions); the deprecated
// functions and function_call; file parts with a file_id; non-function
// tools; tool_choice without tools; a tool message whose tool_call_id
// matches no earlier tool call; schemas using $ref/$defs or type lists
// other than [T, "null"]; and any other unknown member, or a member of
// the wrong type. Malformed JSON is an *openai.SyntaxError.
func ToGemini(openaiBody []byte, opt Options) ([]byte, error) {
	var req chatRequest
	if err := dialect.Decode(openaiBody, &req); err != nil {
		return nil, err
	}
	var out generateRequest
	if err := translateParams(&req, &out); err != nil {
		return nil, err
	}
	if err := translateMessages(req.Messages, &out); err != nil {
		return nil, err
	}
	b, err := json.Marshal(&out, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("gemini: encode request: %w", err)
	}
	return b, nil
}

func translateParams(req *chatRequest, out *generateRequest) error {
	if err := dialect.CheckRequest(&req.Request); err != nil {
		return err
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		return dialect.Reject("parallel_tool_calls", "Gemini may always call several functions at once and has no switch to prevent it")
	}
	gc := &generationConfig{
		Temperature:      req.Temperature,
		TopP:             req.TopP,
		TopK:             req.TopK,
		Seed:             req.Seed,
		PresencePenalty:  req.PresencePenalty,
		FrequencyPenalty: req.FrequencyPenalty,
	}
	switch {
	case req.MaxCompletionTokens != nil:
		if *req.MaxCompletionTokens < 1 {
			return &ParamError{Param: "max_completion_tokens", Msg: fmt.Sprintf(`"max_completion_tokens" must be at least 1, got %d`, *req.MaxCompletionTokens)}
		}
		gc.MaxOutputTokens = req.MaxCompletionTokens
	case req.MaxTokens != nil:
		if *req.MaxTokens < 1 {
			return &ParamError{Param: "max_tokens", Msg: fmt.Sprintf(`"max_tokens" must be at least 1, got %d`, *req.MaxTokens)}
		}
		gc.MaxOutputTokens = req.MaxTokens
	}
	if !chat.IsNull(req.Stop) {
		if req.Stop.Kind() == '"' {
			var s string
			if err := json.Unmarshal(req.Stop, &s); err != nil {
				return dialect.ParamErrorAt("stop", err)
			}
			gc.StopSequences = []string{s}
		} else if err := json.Unmarshal(req.Stop, &gc.StopSequences); err != nil {
			return dialect.ParamErrorAt("stop", err)
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text":
		case "json_object":
			gc.ResponseMimeType = "application/json"
		case "json_schema":
			if rf.JSONSchema == nil || chat.IsNull(rf.JSONSchema.Schema) {
				return &ParamError{Param: "response_format.json_schema.schema", Msg: `"response_format.json_schema.schema" is required for Gemini models`}
			}
			schema, err := cleanSchema(rf.JSONSchema.Schema, "response_format.json_schema.schema")
			if err != nil {
				return err
			}
			gc.ResponseMimeType, gc.ResponseSchema = "application/json", schema
		default:
			return &ParamError{Param: "response_format.type", Msg: fmt.Sprintf(`unknown "response_format.type" %q`, rf.Type)}
		}
	}
	if e := req.ReasoningEffort; e != nil {
		budget, ok := thinkingBudget[*e]
		if !ok {
			return &ParamError{Param: "reasoning_effort", Msg: fmt.Sprintf(`"reasoning_effort" must be one of none, minimal, low, medium or high for Gemini models, got %q`, *e)}
		}
		gc.ThinkingConfig = &thinkingConfig{ThinkingBudget: budget, IncludeThoughts: budget > 0}
	}
	if !gc.isZero() {
		out.GenerationConfig = gc
	}

	var decls []functionDeclaration
	for i, t := range req.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" || t.Function == nil {
			return dialect.Reject(p+".type", fmt.Sprintf("only function tools are translated, got %q", t.Type))
		}
		f := t.Function
		if f.Name == "" {
			return &ParamError{Param: p + ".function.name", Msg: fmt.Sprintf("%q is required", p+".function.name")}
		}
		d := functionDeclaration{Name: f.Name, Description: f.Description}
		if !chat.IsNull(f.Parameters) {
			if f.Parameters.Kind() != '{' {
				return &ParamError{Param: p + ".function.parameters", Msg: fmt.Sprintf("%q must be a JSON Schema object", p+".function.parameters")}
			}
			schema, err := cleanSchema(f.Parameters, p+".function.parameters")
			if err != nil {
				return err
			}
			d.Parameters = schema
		}
		decls = append(decls, d)
	}
	if len(decls) > 0 {
		out.Tools = []geminiTool{{FunctionDeclarations: decls}}
	}
	return translateToolChoice(req, out)
}

func translateToolChoice(req *chatRequest, out *generateRequest) error {
	if chat.IsNull(req.ToolChoice) {
		return nil
	}
	var fc functionCallingConfig
	switch req.ToolChoice.Kind() {
	case '"':
		var s string
		if err := json.Unmarshal(req.ToolChoice, &s); err != nil {
			return dialect.ParamErrorAt("tool_choice", err)
		}
		switch s {
		case "auto":
			fc.Mode = "AUTO"
		case "required":
			fc.Mode = "ANY"
		case "none":
			fc.Mode = "NONE"
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
		if err := json.Unmarshal(req.ToolChoice, &c, json.RejectUnknownMembers(true)); err != nil {
			return dialect.ParamErrorAt("tool_choice", err)
		}
		if c.Type != "function" {
			return dialect.Reject("tool_choice.type", fmt.Sprintf("only function tool choices are translated, got %q", c.Type))
		}
		if c.Function == nil || c.Function.Name == "" {
			return &ParamError{Param: "tool_choice.function.name", Msg: `"tool_choice.function.name" is required`}
		}
		fc = functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{c.Function.Name}}
	default:
		return &ParamError{Param: "tool_choice", Msg: fmt.Sprintf(`"tool_choice" must be a string or an object, got %s`, chat.JSONKindName(req.ToolChoice.Kind()))}
	}
	if len(out.Tools) == 0 {
		if fc.Mode != "NONE" {
			return &ParamError{Param: "tool_choice", Msg: `"tool_choice" is only allowed when "tools" are given`}
		}
		return nil
	}
	out.ToolConfig = &toolConfig{FunctionCallingConfig: fc}
	return nil
}

func translateMessages(msgs []chat.Message, out *generateRequest) error {
	var system []part
	callNames := map[string]string{} // tool call id → function name
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
				system = append(system, textPart(t))
			}
		case "user":
			ps, err := userParts(m.Content, p+".content")
			if err != nil {
				return err
			}
			if len(ps) == 0 {
				return &ParamError{Param: p + ".content", Msg: fmt.Sprintf("%q must not be empty for Gemini models", p+".content")}
			}
			out.Contents = appendContent(out.Contents, "user", ps...)
		case "assistant":
			ps, err := modelParts(m, p, callNames)
			if err != nil {
				return err
			}
			if len(ps) > 0 {
				out.Contents = appendContent(out.Contents, "model", ps...)
			}
		case "tool":
			if m.ToolCallID == "" {
				return &ParamError{Param: p + ".tool_call_id", Msg: fmt.Sprintf("%q is required", p+".tool_call_id")}
			}
			name, ok := callNames[m.ToolCallID]
			if !ok {
				return &ParamError{Param: p + ".tool_call_id", Msg: fmt.Sprintf("%q %q matches no earlier assistant tool call; Gemini needs the function's name", p+".tool_call_id", m.ToolCallID)}
			}
			texts, err := dialect.TextParts(m.Content, p+".content")
			if err != nil {
				return err
			}
			out.Contents = appendContent(out.Contents, "user", part{FunctionResponse: &functionResponse{Name: name, Response: toolResponse(strings.Join(texts, ""))}})
		case "":
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q is required", p+".role")}
		default:
			return &ParamError{Param: p + ".role", Msg: fmt.Sprintf("%q must be system, developer, user, assistant or tool, got %q", p+".role", m.Role)}
		}
	}
	if len(out.Contents) == 0 {
		return &ParamError{Param: "messages", Msg: `"messages" must contain at least one user or assistant message for Gemini models`}
	}
	if len(system) > 0 {
		out.SystemInstruction = &content{Parts: system}
	}
	return nil
}

// toolResponse is a functionResponse.response: {"result": obj} for a JSON
// object result, else {"content": text}.
func toolResponse(text string) jsontext.Value {
	v := jsontext.Value(strings.TrimSpace(text)).Clone()
	if len(v) > 0 && v[0] == '{' && v.Compact() == nil {
		return append(append(jsontext.Value(`{"result":`), v...), '}')
	}
	b := append(jsontext.Value(nil), `{"content":`...)
	b, _ = jsontext.AppendQuote(b, text)
	return append(b, '}')
}

func textPart(s string) part { return part{Text: &s} }

// appendContent adds parts to the last content when it has the same role,
// else starts a new content.
func appendContent(cs []content, role string, ps ...part) []content {
	if n := len(cs); n > 0 && cs[n-1].Role == role {
		cs[n-1].Parts = append(cs[n-1].Parts, ps...)
		return cs
	}
	return append(cs, content{Role: role, Parts: ps})
}

func userParts(c jsontext.Value, path string) ([]part, error) {
	ps, err := dialect.Parts(c, path)
	if err != nil {
		return nil, err
	}
	out := make([]part, 0, len(ps))
	for j, p := range ps {
		pp := fmt.Sprintf("%s[%d]", path, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, textPart(p.Text))
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, &ParamError{Param: pp + ".image_url", Msg: fmt.Sprintf("%q is required", pp+".image_url")}
			}
			gp, err := mediaPart(p.ImageURL.URL, pp+".image_url.url", true)
			if err != nil {
				return nil, err
			}
			out = append(out, gp)
		case "input_audio":
			if p.InputAudio == nil || p.InputAudio.Data == "" {
				return nil, &ParamError{Param: pp + ".input_audio.data", Msg: fmt.Sprintf("%q is required", pp+".input_audio.data")}
			}
			var mt string
			switch p.InputAudio.Format {
			case "wav":
				mt = "audio/wav"
			case "mp3":
				mt = "audio/mp3"
			default:
				return nil, &ParamError{Param: pp + ".input_audio.format", Msg: fmt.Sprintf("%q must be wav or mp3, got %q", pp+".input_audio.format", p.InputAudio.Format)}
			}
			out = append(out, part{InlineData: &blob{MimeType: mt, Data: p.InputAudio.Data}})
		case "file":
			if p.File == nil || p.File.FileData == "" {
				return nil, dialect.Reject(pp+".file", "only files sent inline as file_data are translated; OpenAI file ids mean nothing to Gemini")
			}
			gp, err := mediaPart(p.File.FileData, pp+".file.file_data", false)
			if err != nil {
				return nil, err
			}
			out = append(out, gp)
		default:
			return nil, &ParamError{Param: pp + ".type", Msg: fmt.Sprintf("unknown content part type %q in %q", p.Type, pp)}
		}
	}
	return out, nil
}

// mimeByExt guesses the type of a file referenced by URL, for fileData.
var mimeByExt = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf",
}

// mediaPart turns a data: URL into inlineData and, when urls is set, an
// http(s) URL into fileData.
func mediaPart(url, param string, urls bool) (part, error) {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mt, enc, _ := strings.Cut(meta, ";")
		if !ok || enc != "base64" || mt == "" {
			return part{}, &ParamError{Param: param, Msg: fmt.Sprintf("%q must be a base64 data URL (data:image/png;base64,…)", param)}
		}
		return part{InlineData: &blob{MimeType: strings.ToLower(mt), Data: data}}, nil
	}
	lower := strings.ToLower(url)
	if urls && (strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://")) {
		u := lower
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			u = u[:i]
		}
		mt := mimeByExt[path.Ext(u)]
		if mt == "" {
			mt = "image/jpeg"
		}
		return part{FileData: &fileData{MimeType: mt, FileURI: url}}, nil
	}
	if urls {
		return part{}, &ParamError{Param: param, Msg: fmt.Sprintf("%q must be an http(s) URL or a base64 data URL", param)}
	}
	return part{}, &ParamError{Param: param, Msg: fmt.Sprintf("%q must be a base64 data URL", param)}
}

func modelParts(m chat.Message, p string, callNames map[string]string) ([]part, error) {
	ps, err := dialect.Parts(m.Content, p+".content")
	if err != nil {
		return nil, err
	}
	var out []part
	for j, cp := range ps {
		switch cp.Type {
		case "text":
			if cp.Text != "" {
				out = append(out, textPart(cp.Text))
			}
		case "refusal":
			if cp.Refusal != "" {
				out = append(out, textPart(cp.Refusal))
			}
		default:
			return nil, dialect.Reject(fmt.Sprintf("%s.content[%d].type", p, j), fmt.Sprintf("assistant messages may only contain text and refusal parts, got %q", cp.Type))
		}
	}
	if m.Refusal != nil && *m.Refusal != "" {
		out = append(out, textPart(*m.Refusal))
	}
	for j, tc := range m.ToolCalls {
		tp := fmt.Sprintf("%s.tool_calls[%d]", p, j)
		if tc.Type != "function" {
			return nil, dialect.Reject(tp+".type", fmt.Sprintf("only function tool calls are translated, got %q", tc.Type))
		}
		if tc.ID == "" || tc.Function.Name == "" {
			return nil, &ParamError{Param: tp, Msg: fmt.Sprintf("%q needs an id and a function name", tp)}
		}
		args := jsontext.Value("{}")
		if strings.TrimSpace(tc.Function.Arguments) != "" {
			args = jsontext.Value(tc.Function.Arguments).Clone()
			if err := args.Compact(); err != nil || args.Kind() != '{' {
				return nil, &ParamError{Param: tp + ".function.arguments", Msg: fmt.Sprintf("%q must be a JSON object in a string, as the model produced it", tp+".function.arguments")}
			}
		}
		callNames[tc.ID] = tc.Function.Name
		out = append(out, part{FunctionCall: &functionCall{Name: tc.Function.Name, Args: args}})
	}
	return out, nil
}

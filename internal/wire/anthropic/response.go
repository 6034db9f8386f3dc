package anthropic

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// now is the clock for "created"; tests replace it.
var now = time.Now

// Usage is the token usage of one Anthropic response in OpenAI terms.
type Usage struct {
	// PromptTokens is every input token: Anthropic's input_tokens (which
	// excludes cached tokens) plus cache_read_input_tokens plus
	// cache_creation_input_tokens.
	PromptTokens int64
	// CompletionTokens is output_tokens, thinking included.
	CompletionTokens int64
	// CachedTokens is cache_read_input_tokens (part of PromptTokens).
	CachedTokens int64
	// CacheCreationTokens is cache_creation_input_tokens (part of
	// PromptTokens), which Anthropic bills above the input price.
	CacheCreationTokens int64
	// ReasoningTokens is the reasoning share of CompletionTokens when the
	// answer says it: 0 for Anthropic answers (thinking is counted in
	// output_tokens without being reported apart), an OpenAI answer's
	// completion_tokens_details.reasoning_tokens on the inbound path.
	ReasoningTokens int64
}

// anthropicUsage is the "usage" object of a Message or message_delta.
type anthropicUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

func (u anthropicUsage) usage() Usage {
	return Usage{
		PromptTokens:        u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens,
		CompletionTokens:    u.OutputTokens,
		CachedTokens:        u.CacheReadInputTokens,
		CacheCreationTokens: u.CacheCreationInputTokens,
	}
}

// message is an Anthropic Messages response, as far as FromMessage reads
// it; other members are ignored.
type message struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Content []struct {
		Type     string         `json:"type"`
		Text     string         `json:"text"`
		Thinking string         `json:"thinking"`
		ID       string         `json:"id"`
		Name     string         `json:"name"`
		Input    jsontext.Value `json:"input"`
	} `json:"content"`
	StopReason string         `json:"stop_reason"`
	Usage      anthropicUsage `json:"usage"`
}

// FromMessage translates a non-streamed Anthropic Messages response body
// into an OpenAI chat.completion body (compact JSON) whose "model" is
// model, and returns its usage.
//
// The id is "chatcmpl-" plus the Anthropic id without its "msg_" prefix;
// "created" is the current time. Text blocks are joined into
// message.content (null when there is none but there are tool calls);
// tool_use blocks become message.tool_calls with the same ids and the
// input as compact JSON arguments; thinking blocks are joined into
// message.reasoning_content, the name DeepSeek, vLLM and other
// OpenAI-compatible servers use. redacted_thinking blocks (encrypted) and
// server-tool blocks (server_tool_use and its results, which Anthropic
// ran itself and which ToMessages never asks for) have no OpenAI form and
// are left out. stop_reason maps end_turn, stop_sequence and pause_turn to
// "stop", max_tokens and model_context_window_exceeded to "length",
// tool_use to "tool_calls" and refusal to "content_filter".
//
// An error body (type "error") or a body that is not a Message is an
// error; use ParseError for error bodies.
func FromMessage(body []byte, model string) (out []byte, usage Usage, err error) {
	return FromMessageJSON(body, model, "")
}

// FromMessageJSON is FromMessage for a request that ToMessages sent with
// response_format json_object or json_schema, honoured by forcing the tool
// named jsonTool (see JSONToolName). The input of that tool's call is the
// answer: it becomes message.content as compact JSON, not a tool call, and
// stop_reason tool_use maps to "stop" (unless the model also called other
// tools, which stay tool calls). Text blocks are left out, so that content
// is the JSON alone: with a forced tool Anthropic writes none. An empty
// jsonTool is FromMessage.
func FromMessageJSON(body []byte, model, jsonTool string) (out []byte, usage Usage, err error) {
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, Usage{}, fmt.Errorf("anthropic: decode message: %w", err)
	}
	if m.Type != "message" {
		return nil, Usage{}, fmt.Errorf("anthropic: decode message: got type %q, want \"message\"", m.Type)
	}
	a := chat.Answer{JSONTool: jsonTool}
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			a.Text(b.Text)
		case "thinking":
			a.Reasoning(b.Thinking)
		case "tool_use":
			if err := a.ToolUse(b.ID, b.Name, b.Input); err != nil {
				return nil, Usage{}, fmt.Errorf("anthropic: decode message: tool_use input: %w", err)
			}
		}
	}
	msg, finish := a.Message(finishReason(m.StopReason))
	usage = m.Usage.usage()
	out, err = chat.MarshalCompletion(completionID(m.ID), model, now().Unix(), msg, finish, toOpenAIUsage(usage))
	if err != nil {
		return nil, Usage{}, fmt.Errorf("anthropic: encode completion: %w", err)
	}
	return out, usage, nil
}

func toOpenAIUsage(u Usage) chat.Usage {
	return chat.UsageOf(u.PromptTokens, u.CompletionTokens, u.CachedTokens)
}

// completionID makes an OpenAI completion id from an Anthropic message id.
func completionID(id string) string {
	return "chatcmpl-" + strings.TrimPrefix(id, "msg_")
}

// finishReason maps an Anthropic stop_reason to an OpenAI finish_reason
// (https://docs.anthropic.com/en/api/handling-stop-reasons).
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	// end_turn, stop_sequence, pause_turn, and any reason added later.
	return "stop"
}

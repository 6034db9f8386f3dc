package bedrock

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// now is the clock for "created"; tests replace it.
var now = time.Now

// newID returns the part of a completion id after "chatcmpl-". Bedrock
// answers carry no id in the body (only an x-amzn-RequestId header), so
// one is made up; tests replace it.
var newID = func() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Usage is the token usage of one Bedrock answer in OpenAI terms.
type Usage struct {
	// PromptTokens is every input token: inputTokens (which, as on
	// Anthropic, excludes cached tokens) plus cacheReadInputTokens plus
	// cacheWriteInputTokens.
	PromptTokens int64
	// CompletionTokens is outputTokens, reasoning included.
	CompletionTokens int64
	// CachedTokens is cacheReadInputTokens (part of PromptTokens).
	CachedTokens int64
	// ReasoningTokens is always 0: Bedrock counts reasoning in
	// outputTokens without reporting it apart.
	ReasoningTokens int64
}

// converseUsage is the "usage" object of a Converse answer or a stream's
// metadata event.
type converseUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
}

func (u converseUsage) usage() Usage {
	return Usage{
		PromptTokens:     u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens,
		CompletionTokens: u.OutputTokens,
		CachedTokens:     u.CacheReadInputTokens,
	}
}

// converseResponse is a Converse answer as far as FromConverse reads it.
type converseResponse struct {
	Output struct {
		Message *struct {
			Role    string `json:"role"`
			Content []struct {
				Text    *string `json:"text"`
				ToolUse *struct {
					ToolUseID string         `json:"toolUseId"`
					Name      string         `json:"name"`
					Input     jsontext.Value `json:"input"`
				} `json:"toolUse"`
				ReasoningContent *struct {
					ReasoningText *struct {
						Text string `json:"text"`
					} `json:"reasoningText"`
				} `json:"reasoningContent"`
			} `json:"content"`
		} `json:"message"`
	} `json:"output"`
	StopReason string        `json:"stopReason"`
	Usage      converseUsage `json:"usage"`
}

// FromConverse translates a Converse response body into an OpenAI
// chat.completion body (compact JSON) whose "model" is model, and returns
// its usage.
//
// The id is "chatcmpl-" plus random characters (Bedrock's body has none);
// "created" is the current time. Text blocks are joined into
// message.content (null when there is none but there are tool calls);
// toolUse blocks become message.tool_calls with the same ids and the input
// as compact JSON arguments; reasoningContent.reasoningText blocks are
// joined into message.reasoning_content (their signature and
// redactedContent have no OpenAI form and are left out). Image, document
// and guard content blocks are left out too. stopReason maps end_turn and
// stop_sequence to "stop", max_tokens and model_context_window_exceeded to
// "length", tool_use to "tool_calls", guardrail_intervened and
// content_filtered to "content_filter".
//
// A body that is not a Converse answer (no output.message) is an error;
// use ParseError for error bodies.
func FromConverse(body []byte, model string) (out []byte, usage Usage, err error) {
	return FromConverseJSON(body, model, "")
}

// FromConverseJSON is FromConverse for a request that ToConverse sent with
// response_format json_object or json_schema, honoured by forcing the tool
// named jsonTool (see JSONToolName). The input of that tool's call is the
// answer: it becomes message.content as compact JSON, not a tool call, and
// stopReason tool_use maps to "stop" (unless the model also called other
// tools, which stay tool calls). Text blocks are left out, so that content
// is the JSON alone (some models write their reasoning as text before a
// tool call). An empty jsonTool is FromConverse.
func FromConverseJSON(body []byte, model, jsonTool string) (out []byte, usage Usage, err error) {
	var r converseResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, Usage{}, fmt.Errorf("bedrock: decode converse response: %w", err)
	}
	m := r.Output.Message
	if m == nil {
		return nil, Usage{}, fmt.Errorf("bedrock: decode converse response: no output.message")
	}
	a := chat.Answer{JSONTool: jsonTool}
	for _, b := range m.Content {
		switch {
		case b.Text != nil:
			a.Text(*b.Text)
		case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
			a.Reasoning(b.ReasoningContent.ReasoningText.Text)
		case b.ToolUse != nil:
			if err := a.ToolUse(b.ToolUse.ToolUseID, b.ToolUse.Name, b.ToolUse.Input); err != nil {
				return nil, Usage{}, fmt.Errorf("bedrock: decode converse response: toolUse input: %w", err)
			}
		}
	}
	msg, finish := a.Message(finishReason(r.StopReason))
	usage = r.Usage.usage()
	out, err = chat.MarshalCompletion("chatcmpl-"+newID(), model, now().Unix(), msg, finish, toOpenAIUsage(usage))
	if err != nil {
		return nil, Usage{}, fmt.Errorf("bedrock: encode completion: %w", err)
	}
	return out, usage, nil
}

func toOpenAIUsage(u Usage) chat.Usage {
	return chat.UsageOf(u.PromptTokens, u.CompletionTokens, u.CachedTokens)
}

// finishReason maps a Converse stopReason to an OpenAI finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	}
	// end_turn, stop_sequence, and any reason added later.
	return "stop"
}

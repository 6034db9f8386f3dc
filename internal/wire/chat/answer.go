package chat

import (
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Answer gathers the blocks of a non-streamed provider answer (text,
// reasoning, tool calls) into an OpenAI assistant message. With JSONTool
// set, the request's JSON mode was honoured by forcing that tool: its
// input is the answer's content, and text blocks are left out so that the
// content is the JSON alone.
type Answer struct {
	JSONTool        string
	text, reasoning strings.Builder
	calls           []ToolCallOut
}

// Text adds a text block.
func (a *Answer) Text(s string) {
	if a.JSONTool == "" {
		a.text.WriteString(s)
	}
}

// Reasoning adds a thinking block.
func (a *Answer) Reasoning(s string) { a.reasoning.WriteString(s) }

// ToolUse adds a tool call whose input is JSON (null or absent means {}),
// or the answer itself when name is the JSON tool. The error is the
// input's, when it is not JSON.
func (a *Answer) ToolUse(id, name string, input jsontext.Value) error {
	if IsNull(input) {
		input = jsontext.Value("{}")
	} else if err := input.Compact(); err != nil {
		return err
	}
	if a.JSONTool != "" && name == a.JSONTool {
		a.text.Write(input)
		return nil
	}
	tc := ToolCallOut{ID: id, Type: "function"}
	tc.Function.Name = name
	tc.Function.Arguments = string(input)
	a.calls = append(a.calls, tc)
	return nil
}

// Calls is the number of tool calls added.
func (a *Answer) Calls() int { return len(a.calls) }

// Message is the OpenAI message, and finish (the provider's stop reason
// mapped) corrected for JSON mode: the forced JSON tool is a "stop", not a
// "tool_calls", unless other tools were called too. Content is null only
// when there is no text but there are tool calls.
func (a *Answer) Message(finish string) (OutputMessage, string) {
	msg := OutputMessage{Role: "assistant", ToolCalls: a.calls, ReasoningContent: a.reasoning.String()}
	if a.text.Len() > 0 || len(a.calls) == 0 {
		s := a.text.String()
		msg.Content = &s
	}
	if a.JSONTool != "" && finish == "tool_calls" && len(a.calls) == 0 {
		finish = "stop"
	}
	return msg, finish
}

// MarshalCompletion encodes the chat.completion of one message.
func MarshalCompletion(id, model string, created int64, msg OutputMessage, finish string, u Usage) ([]byte, error) {
	c := Completion{
		ID:      id,
		Object:  "chat.completion",
		Created: created,
		Model:   model,
		Choices: []Choice{{Message: msg, FinishReason: finish}},
		Usage:   u,
	}
	return json.Marshal(&c, json.Deterministic(true))
}

// UsageOf is the OpenAI usage of an answer: prompt tokens include the
// cached ones.
func UsageOf(prompt, completion, cached int64) Usage {
	u := Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
	u.PromptTokensDetails.CachedTokens = cached
	return u
}

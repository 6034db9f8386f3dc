package gemini

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard-gw/switchboard/internal/wire/chat"
)

// now is the clock for "created"; tests replace it.
var now = time.Now

// Usage is the token usage of one Gemini response in OpenAI terms.
type Usage struct {
	// PromptTokens is promptTokenCount (which includes the cached
	// tokens) plus toolUsePromptTokenCount.
	PromptTokens int64
	// CompletionTokens is candidatesTokenCount plus thoughtsTokenCount:
	// Gemini counts thoughts in totalTokenCount but not in
	// candidatesTokenCount, and bills them as output.
	CompletionTokens int64
	// CachedTokens is cachedContentTokenCount (part of PromptTokens).
	CachedTokens int64
	// ReasoningTokens is thoughtsTokenCount (part of CompletionTokens).
	ReasoningTokens int64
}

// usageMetadata is a GenerateContentResponse's usageMetadata.
type usageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
}

func (u usageMetadata) usage() Usage {
	return Usage{
		PromptTokens:     u.PromptTokenCount + u.ToolUsePromptTokenCount,
		CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount,
		CachedTokens:     u.CachedContentTokenCount,
		ReasoningTokens:  u.ThoughtsTokenCount,
	}
}

// response is a GenerateContentResponse as far as FromGemini and Stream
// read it; other members (safetyRatings, citationMetadata, avgLogprobs,
// thoughtSignature, ...) are ignored.
type response struct {
	Candidates []struct {
		Content struct {
			Parts []responsePart `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *usageMetadata `json:"usageMetadata"`
	ResponseID    string         `json:"responseId"`
	Error         *rpcStatus     `json:"error"`
}

type responsePart struct {
	Text         jsontext.Value `json:"text"` // a JSON string, copied through
	Thought      bool           `json:"thought"`
	FunctionCall *struct {
		Name string         `json:"name"`
		Args jsontext.Value `json:"args"`
	} `json:"functionCall"`
}

func toOpenAIUsage(u Usage) chat.Usage {
	o := chat.UsageOf(u.PromptTokens, u.CompletionTokens, u.CachedTokens)
	o.CompletionTokensDetails = &chat.CompletionTokensDetails{ReasoningTokens: u.ReasoningTokens}
	return o
}

// callID is the id of the n-th function call (from 0) of an answer.
// Gemini gives calls no ids; these are stable within an answer, and
// ToGemini resolves them back to names through the assistant message.
func callID(n int) string { return "call_" + strconv.Itoa(n) }

// FromGemini translates a non-streamed Gemini GenerateContentResponse
// body into an OpenAI chat.completion body (compact JSON) whose "model" is
// model, and returns its usage.
//
// Only the first candidate is translated (ToGemini never asks for more).
// The id is "chatcmpl-" plus responseId; "created" is the current time.
// Text parts are joined into message.content (null when there is none but
// there are tool calls); thought parts (thought: true) into
// message.reasoning_content, the name DeepSeek, vLLM and other
// OpenAI-compatible servers use; functionCall parts become
// message.tool_calls with ids "call_0", "call_1", … and args as compact
// JSON arguments. Other parts (inlineData, executableCode, ...) have no
// OpenAI form and are left out. finishReason maps STOP to "stop" — or
// "tool_calls" when the answer calls a function —, MAX_TOKENS to "length",
// SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII and IMAGE_SAFETY
// to "content_filter", and anything else to "stop". A prompt blocked by
// promptFeedback.blockReason (no candidates) is an empty answer with
// "content_filter".
//
// An error body, or a body that is no GenerateContentResponse, is an
// error; use ParseError for error bodies.
func FromGemini(body []byte, model string) (out []byte, usage Usage, err error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, Usage{}, fmt.Errorf("gemini: decode response: %w", err)
	}
	if r.Error != nil {
		return nil, Usage{}, fmt.Errorf("gemini: decode response: got an error body: %s", r.Error.Message)
	}
	if r.UsageMetadata != nil {
		usage = r.UsageMetadata.usage()
	}
	msg := chat.OutputMessage{Role: "assistant"}
	finish := ""
	switch {
	case len(r.Candidates) > 0:
		c := r.Candidates[0]
		var text, reasoning strings.Builder
		for _, p := range c.Content.Parts {
			switch {
			case p.FunctionCall != nil:
				tc := chat.ToolCallOut{ID: callID(len(msg.ToolCalls)), Type: "function"}
				tc.Function.Name = p.FunctionCall.Name
				args, err := compactArgs(p.FunctionCall.Args)
				if err != nil {
					return nil, Usage{}, fmt.Errorf("gemini: decode response: functionCall args: %w", err)
				}
				tc.Function.Arguments = string(args)
				msg.ToolCalls = append(msg.ToolCalls, tc)
			case len(p.Text) > 0:
				var s string
				if err := json.Unmarshal(p.Text, &s); err != nil {
					return nil, Usage{}, fmt.Errorf("gemini: decode response: text: %w", err)
				}
				if p.Thought {
					reasoning.WriteString(s)
				} else {
					text.WriteString(s)
				}
			}
		}
		if text.Len() > 0 || len(msg.ToolCalls) == 0 {
			s := text.String()
			msg.Content = &s
		}
		msg.ReasoningContent = reasoning.String()
		finish = finishReason(c.FinishReason, len(msg.ToolCalls) > 0)
	case r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "":
		s := ""
		msg.Content = &s
		finish = "content_filter"
	default:
		return nil, Usage{}, fmt.Errorf("gemini: decode response: no candidates")
	}
	out, err = chat.MarshalCompletion("chatcmpl-"+r.ResponseID, model, now().Unix(), msg, finish, toOpenAIUsage(usage))
	if err != nil {
		return nil, Usage{}, fmt.Errorf("gemini: encode completion: %w", err)
	}
	return out, usage, nil
}

// compactArgs returns a functionCall's args as compact JSON; absent or
// null args are "{}".
func compactArgs(args jsontext.Value) (jsontext.Value, error) {
	if chat.IsNull(args) {
		return jsontext.Value("{}"), nil
	}
	args = args.Clone()
	if err := args.Compact(); err != nil {
		return nil, err
	}
	return args, nil
}

// finishReason maps a Gemini finishReason
// (https://ai.google.dev/api/generate-content#FinishReason) to an OpenAI
// finish_reason; calls reports that the answer calls a function.
func finishReason(reason string, calls bool) string {
	switch reason {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return "content_filter"
	}
	if calls {
		return "tool_calls"
	}
	// STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, and reasons added later.
	return "stop"
}

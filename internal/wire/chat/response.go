package chat

// Completion is an OpenAI chat.completion
// (https://platform.openai.com/docs/api-reference/chat/object) as the
// translators write it; members are in the order OpenAI sends them.
type Completion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"` // "chat.completion"
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   Usage    `json:"usage"`
}

// Choice is one entry of a Completion's "choices".
type Choice struct {
	Index        int           `json:"index"`
	Message      OutputMessage `json:"message"`
	Logprobs     *struct{}     `json:"logprobs"` // always null
	FinishReason string        `json:"finish_reason"`
}

// OutputMessage is a Choice's assistant "message". Content is null when
// there is no text but there are tool calls; ReasoningContent and
// ToolCalls are left out when empty.
type OutputMessage struct {
	Role             string        `json:"role"`
	Content          *string       `json:"content"`
	ReasoningContent string        `json:"reasoning_content,omitzero"`
	ToolCalls        []ToolCallOut `json:"tool_calls,omitzero"`
	Refusal          *string       `json:"refusal"` // always null
}

// ToolCallOut is one entry of an OutputMessage's "tool_calls".
type ToolCallOut struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Usage is a Completion's "usage". CompletionTokensDetails is left out
// when nil: only translators whose provider reports reasoning tokens
// apart set it.
type Usage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitzero"`
}

// CompletionTokensDetails is the breakdown of Usage.CompletionTokens.
type CompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

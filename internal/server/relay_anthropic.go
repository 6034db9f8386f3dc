package server

import (
	"fmt"
	"net/http"

	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/anthropic"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// The cross-dialect path of DESIGN.md §6 for an OpenAI client and an
// Anthropic provider: the request was translated by anthropic.ToMessages,
// and the answer is translated back here, streams event by event.

// relayAnthropicBody translates a non-streamed Messages answer.
func (a *attempt) relayAnthropicBody(resp *http.Response) error {
	return a.relayTranslatedBody(resp, func(b []byte) ([]byte, openai.Usage, error) {
		out, u, err := anthropic.FromMessageJSON(b, a.x.upstream, a.x.jsonTool)
		return out, openaiUsage(u), err
	}, a.anthropicError)
}

// anthropicError maps an Anthropic error answer to the OpenAI error shape
// and a failure class.
func (a *attempt) anthropicError(resp *http.Response, ct string, body []byte) error {
	if isMediaType(ct, "application/json") {
		if e, ok := anthropic.ParseError(resp.StatusCode, body); ok {
			oe := openai.APIError{Type: e.Type, Code: e.Code, Message: e.Message}
			return &Error{Status: e.Status, Type: e.Type, Code: e.Code, RetryAfter: resp.Header.Get("Retry-After"),
				Message: fmt.Sprintf("provider %q: %s", a.p.Name, e.Message),
				class:   classify(e.Status, oe), hint: retryHint(resp.Header)}
		}
	}
	return a.upstreamError(resp, ct, body)
}

// relayAnthropicStream translates a Messages SSE stream into OpenAI chunks,
// event by event.
func (a *attempt) relayAnthropicStream(resp *http.Response, clientUsage bool) error {
	return a.relaySSE(resp, &anthropicConv{st: anthropic.NewStreamJSON(a.x.upstream, clientUsage, a.x.jsonTool), x: a.x})
}

// anthropicConv translates Anthropic events into OpenAI chunks.
type anthropicConv struct {
	st       *anthropic.Stream
	x        *exchange
	sawError bool
}

func (c *anthropicConv) event(dst []byte, ev sse.Event) ([]byte, error) {
	out, err := c.st.Event(dst, ev.Name, ev.Data)
	c.x.usage, c.x.hasUsage = openaiUsage(c.st.Usage()), true
	if err != nil {
		return dst, &protocolError{err}
	}
	// An error event is passed on in-band by the translator; the stream is over.
	c.sawError = string(ev.Name) == "error"
	return out, nil
}
func (c *anthropicConv) end(dst []byte) []byte { return dst }
func (c *anthropicConv) complete() bool        { return c.st.Done() }
func (c *anthropicConv) failed() bool          { return c.sawError }

func openaiUsage(u anthropic.Usage) openai.Usage {
	return openai.Usage{
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens:  u.PromptTokens + u.CompletionTokens,
		CachedTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens,
	}
}

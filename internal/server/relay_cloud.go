package server

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/bedrock"
	"github.com/switchboard-gw/switchboard/internal/wire/gemini"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// The cross-dialect paths for OpenAI clients and Google (Gemini API, Vertex
// AI) or Amazon Bedrock providers: requests were translated in prepare;
// answers are translated back here, streams unit by unit.

func (a *attempt) relayGeminiBody(resp *http.Response) error {
	return a.relayTranslatedBody(resp, func(b []byte) ([]byte, openai.Usage, error) {
		out, u, err := gemini.FromGemini(b, a.x.upstream)
		return out, geminiUsage(u), err
	}, a.geminiError)
}

func (a *attempt) geminiError(resp *http.Response, ct string, body []byte) error {
	if isMediaType(ct, "application/json") {
		if e, ok := gemini.ParseError(resp.StatusCode, body); ok {
			return a.translatedError(resp, e.Status, e.Type, e.Code, e.Message, e.RetryAfter)
		}
	}
	return a.upstreamError(resp, ct, body)
}

func (a *attempt) relayBedrockBody(resp *http.Response) error {
	return a.relayTranslatedBody(resp, func(b []byte) ([]byte, openai.Usage, error) {
		out, u, err := bedrock.FromConverseJSON(b, a.x.upstream, a.x.jsonTool)
		return out, bedrockUsage(u), err
	}, a.bedrockError)
}

func (a *attempt) bedrockError(resp *http.Response, ct string, body []byte) error {
	if e, ok := bedrock.ParseError(resp.StatusCode, resp.Header, body); ok {
		return a.translatedError(resp, e.Status, e.Type, e.Code, e.Message, 0)
	}
	return a.upstreamError(resp, ct, body)
}

// translatedError is an upstream error already mapped to OpenAI's fields.
func (a *attempt) translatedError(resp *http.Response, status int, typ, code, msg string, hint time.Duration) error {
	if hint <= 0 {
		hint = retryHint(resp.Header)
	}
	ra := resp.Header.Get("Retry-After")
	if ra == "" && hint > 0 {
		ra = strconv.Itoa(int(math.Ceil(hint.Seconds())))
	}
	return &Error{Status: status, Type: typ, Code: code, RetryAfter: ra,
		Message: fmt.Sprintf("provider %q: %s", a.p.Name, msg),
		class:   classify(status, openai.APIError{Type: typ, Code: code, Message: msg}), hint: hint}
}

// relayGeminiStream translates a streamGenerateContent?alt=sse stream.
func (a *attempt) relayGeminiStream(resp *http.Response, includeUsage bool) error {
	return a.relaySSE(resp, &geminiConv{st: gemini.NewStream(a.x.upstream, includeUsage), x: a.x})
}

type geminiConv struct {
	st *gemini.Stream
	x  *exchange
}

func (c *geminiConv) event(dst []byte, ev sse.Event) ([]byte, error) {
	out, err := c.st.Event(dst, ev.Data)
	c.x.usage, c.x.hasUsage = geminiUsage(c.st.Usage()), true
	if err != nil {
		return dst, &protocolError{err}
	}
	return out, nil
}

// end: Gemini streams have no end marker; a clean EOF after the finish
// reason is the end, and the translator then owes usage and [DONE].
func (c *geminiConv) end(dst []byte) []byte {
	if !c.st.Done() || c.st.Failed() {
		return dst
	}
	return c.st.Finish(dst)
}
func (c *geminiConv) complete() bool { return c.st.Done() }
func (c *geminiConv) failed() bool   { return c.st.Failed() }

// relayBedrockStream translates a ConverseStream answer: binary
// eventstream frames, which need not line up with HTTP chunks.
func (a *attempt) relayBedrockStream(resp *http.Response, includeUsage bool) error {
	if err := a.checkStreamType(resp, "application/vnd.amazon.eventstream"); err != nil {
		return err
	}
	return a.relayChunks(a.newFrameSource(resp, includeUsage))
}

// newFrameSource reads resp's body as Bedrock eventstream frames.
func (a *attempt) newFrameSource(resp *http.Response, includeUsage bool) *frameSource {
	return &frameSource{dec: bedrock.NewDecoder(&firstByteReader{r: resp.Body, a: a}),
		st: bedrock.NewStreamJSON(a.x.upstream, includeUsage, a.x.jsonTool), x: a.x}
}

type frameSource struct {
	dec      *bedrock.Decoder
	st       *bedrock.Stream
	x        *exchange
	sawError bool
}

func (s *frameSource) next(dst []byte) ([]byte, error) {
	f, err := s.dec.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return dst, err
		}
		return dst, &protocolError{err}
	}
	out, err := s.st.Frame(dst, f)
	s.x.usage, s.x.hasUsage = bedrockUsage(s.st.Usage()), true
	if err != nil {
		return dst, &protocolError{err}
	}
	s.sawError = f.MessageType == "exception" || f.MessageType == "error"
	return out, nil
}
func (s *frameSource) complete() bool { return s.st.Done() }
func (s *frameSource) failed() bool   { return s.sawError }

func geminiUsage(u gemini.Usage) openai.Usage {
	return openai.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens: u.PromptTokens + u.CompletionTokens, CachedTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens}
}

func bedrockUsage(u bedrock.Usage) openai.Usage {
	return openai.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		TotalTokens: u.PromptTokens + u.CompletionTokens, CachedTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens}
}

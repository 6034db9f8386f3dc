package server

import (
	"bytes"
	"net/http"

	"github.com/switchboard-gw/switchboard/internal/wire/anthropic"
	"github.com/switchboard-gw/switchboard/internal/wire/bedrock"
	"github.com/switchboard-gw/switchboard/internal/wire/gemini"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// Anthropic clients and Gemini or Bedrock providers: the two translations
// are chained through the canonical OpenAI form (DESIGN.md §6), the request
// in prepareMessages and the answer here.

// toMessagesSource turns the OpenAI SSE output of another source into
// Anthropic events.
type toMessagesSource struct {
	src  chunkSource
	st   *anthropic.InboundStream
	x    *exchange
	tmp  []byte
	done bool
}

func (s *toMessagesSource) next(dst []byte) ([]byte, error) {
	var err error
	s.tmp, err = s.src.next(s.tmp[:0])
	if err != nil {
		return dst, err
	}
	// The inner source wrote complete "data: {...}\n\n" events.
	for rest := s.tmp; len(rest) > 0; {
		ev, after, _ := bytes.Cut(rest, []byte("\n\n"))
		rest = after
		payload, ok := bytes.CutPrefix(ev, []byte("data: "))
		if !ok {
			continue
		}
		if bytes.Equal(payload, doneData) {
			s.done = true
			dst = s.st.Finish(dst)
			continue
		}
		if dst, err = s.st.Chunk(dst, payload); err != nil {
			return dst, &protocolError{err}
		}
	}
	s.x.usage, s.x.hasUsage = openaiUsage(s.st.Usage()), true
	return dst, nil
}

func (s *toMessagesSource) complete() bool { return s.done }
func (s *toMessagesSource) failed() bool   { return s.src.failed() }

// relayAsMessages answers an Anthropic client from a provider whose answers
// are first translated to the OpenAI form (toOpenAI, or the chunks of the
// stream source inner makes) and from there to Messages.
func (a *attempt) relayAsMessages(resp *http.Response, stream bool, toOpenAI func([]byte) ([]byte, error),
	upErr func(*http.Response, string, []byte) error, streamType string, inner func() (chunkSource, func())) error {
	if !stream || resp.StatusCode/100 != 2 {
		return a.relayTranslatedBody(resp, func(b []byte) ([]byte, openai.Usage, error) {
			oa, err := toOpenAI(b)
			if err != nil {
				return nil, openai.Usage{}, err
			}
			out, u, err := anthropic.ToMessage(oa, a.x.upstream)
			return out, openaiUsage(u), err
		}, upErr)
	}
	if err := a.checkStreamType(resp, streamType); err != nil {
		return err
	}
	src, release := inner()
	defer release()
	return a.relayChunks(&toMessagesSource{src: src, st: anthropic.NewInboundStream(a.x.upstream), x: a.x})
}

// relayGeminiAsMessages answers an Anthropic client from a Gemini provider.
func (a *attempt) relayGeminiAsMessages(resp *http.Response, stream bool) error {
	return a.relayAsMessages(resp, stream, func(b []byte) ([]byte, error) {
		oa, _, err := gemini.FromGemini(b, a.x.upstream)
		return oa, err
	}, a.geminiError, "text/event-stream", func() (chunkSource, func()) {
		return a.newSSESource(resp, &geminiConv{st: gemini.NewStream(a.x.upstream, true), x: a.x})
	})
}

// relayBedrockAsMessages answers an Anthropic client from a Bedrock provider.
func (a *attempt) relayBedrockAsMessages(resp *http.Response, stream bool) error {
	return a.relayAsMessages(resp, stream, func(b []byte) ([]byte, error) {
		oa, _, err := bedrock.FromConverse(b, a.x.upstream)
		return oa, err
	}, a.bedrockError, "application/vnd.amazon.eventstream", func() (chunkSource, func()) {
		return a.newFrameSource(resp, true), func() {}
	})
}

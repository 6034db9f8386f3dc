package server

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/route"
	"github.com/switchboard-gw/switchboard/internal/sse"
	"github.com/switchboard-gw/switchboard/internal/wire/anthropic"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

// messages serves POST /v1/messages, the Anthropic Messages API, so the
// Anthropic SDKs and the tools built on them can use the gateway by changing
// their base URL. Routing is the same as for chat completions (rules,
// weights, retries, fallbacks, breakers); to an Anthropic provider the bytes
// pass through with only "model" rewritten, to an OpenAI-dialect provider the
// request and the answer are translated. Errors use Anthropic's shape.
func (s *Server) messages(x *exchange, r *http.Request) error {
	x.anthropic = true
	rt := x.rt
	key, err := s.caller(x, r)
	if err != nil {
		return err
	}
	in := getBuf()
	defer putBuf(in)
	body, err := s.readRequest(x, r, in)
	if err != nil {
		return err
	}
	if body, err = s.checkRequest(x, rt.policyFor(key), body); err != nil {
		return err
	}
	req, err := anthropic.ScanRequest(body)
	if err != nil {
		return err
	}
	x.model, x.streaming = req.Model, req.Stream
	m, err := s.resolveModel(x, r, key, req.Model, nil)
	if err != nil {
		return err
	}
	if x.policy != nil && len(x.policy.pre) > 0 {
		hooked, err := s.preHooks(x, r, key, body)
		if err != nil {
			return err
		}
		if !bytes.Equal(hooked, body) {
			body = hooked
			if req, err = anthropic.ScanRequest(body); err != nil {
				return err
			}
		}
	}
	s.notePrompt(x, key, body)
	if err := s.admit(x, r, key, req.Model, messagesUser(body), body); err != nil {
		return err
	}
	if s.cacheLookup(x, r, key, m, body, cacheRequest{stream: req.Stream, includeUsage: true}) {
		return nil
	}
	out := getBuf()
	defer putBuf(out)
	ri := routeInput{op: provider.OpChat, areq: &req, body: body, key: key, out: out, sticky: sticky(m, x, ""),
		ctx: r.Context(), fetcher: rt.fetcher}
	if req.Stream {
		if pol := x.policy; pol != nil && pol.respPII && pol.pii != nil {
			x.redact = newStreamRedactor(pol.pii)
		}
		return s.route(x, r, ri, m)
	}
	return s.idempotent(x, r, key, body, func() error {
		return s.held(x, r, key, body, func() error { return s.route(x, r, ri, m) })
	})
}

// prepareMessages builds the upstream body of an Anthropic client's request.
func prepareMessages(in routeInput, p *provider.Provider, tgt route.Target) ([]byte, error) {
	switch p.Dialect {
	case provider.DialectAnthropic:
		*in.out = in.areq.RewriteModel((*in.out)[:0], in.body, tgt.Model)
		return *in.out, nil
	case provider.DialectOpenAI:
		return anthropic.FromMessagesRequest(in.body, tgt.Model)
	case provider.DialectGemini, provider.DialectBedrock:
		// Chained through the OpenAI form, as the answer is on the way back.
		oa, err := anthropic.FromMessagesRequest(in.body, tgt.Model)
		if err != nil {
			return nil, err
		}
		return toCloud(in, p, oa)
	}
	return nil, badRequest("model", fmt.Sprintf("provider %q cannot serve the Messages API", p.Name))
}

// countTokens serves POST /v1/messages/count_tokens by asking the Anthropic
// provider of the model. Other providers have no such endpoint and the
// gateway does not guess: the request is refused with a clear error.
func (s *Server) countTokens(x *exchange, r *http.Request) error {
	x.anthropic = true
	rt := x.rt
	key, err := s.caller(x, r)
	if err != nil {
		return err
	}
	in := getBuf()
	defer putBuf(in)
	body, err := s.readRequest(x, r, in)
	if err != nil {
		return err
	}
	req, err := anthropic.ScanRequest(body)
	if err != nil {
		return err
	}
	x.model = req.Model
	m, err := s.resolveModel(x, r, key, req.Model, nil)
	if err != nil {
		return err
	}
	tgt := m.Pick()
	p := rt.providers[tgt.Provider]
	if p.Dialect != provider.DialectAnthropic {
		return badRequest("model", fmt.Sprintf("model %q is served by provider %q (%s); token counting is available for Anthropic providers only", req.Model, p.Name, p.Type))
	}
	out := getBuf()
	defer putBuf(out)
	*out = req.RewriteModel((*out)[:0], body, tgt.Model)
	x.provider, x.upstream = p.Name, tgt.Model
	upreq, _, err := p.NewRequestPath(r.Context(), "/v1/messages/count_tokens", *out)
	if err != nil {
		return err
	}
	a := &attempt{s: s, x: x, r: r, p: p, ctx: r.Context()}
	resp, err := p.Do(upreq)
	if err != nil {
		return a.failure(err)
	}
	defer resp.Body.Close()
	buf := getBuf()
	defer putBuf(buf)
	ans, err := a.readUpstream(resp, buf)
	if err != nil {
		return err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 != 2 {
		return a.anthropicError(resp, ct, ans)
	}
	return a.writeBody(ct, ans)
}

// relayMessagesBody passes a non-streamed Anthropic answer through as it is,
// after checking it is a Message and reading its usage.
func (a *attempt) relayMessagesBody(resp *http.Response) error {
	return a.relayTranslatedBody(resp, func(b []byte) ([]byte, openai.Usage, error) {
		u, err := anthropic.MessageUsage(b)
		return b, openaiUsage(u), err
	}, a.anthropicError)
}

// relayInboundBody translates a non-streamed OpenAI answer into a Message.
func (a *attempt) relayInboundBody(resp *http.Response) error {
	return a.relayTranslatedBody(resp, func(b []byte) ([]byte, openai.Usage, error) {
		out, u, err := anthropic.ToMessage(b, a.x.upstream)
		return out, openaiUsage(u), err
	}, a.upstreamError)
}

// relayMessagesStream passes an Anthropic stream through event by event,
// following its usage.
func (a *attempt) relayMessagesStream(resp *http.Response) error {
	return a.relaySSE(resp, &passConv{x: a.x})
}

// relayInboundStream translates an OpenAI stream into Anthropic events.
func (a *attempt) relayInboundStream(resp *http.Response) error {
	return a.relaySSE(resp, &inboundConv{st: anthropic.NewInboundStream(a.x.upstream), x: a.x})
}

// passConv passes Anthropic events through as they are.
type passConv struct {
	t anthropic.UsageTracker
	x *exchange
}

func (p *passConv) event(dst []byte, ev sse.Event) ([]byte, error) {
	p.t.Event(ev.Name, ev.Data)
	p.x.usage, p.x.hasUsage = openaiUsage(p.t.Usage()), true
	return sse.AppendEvent(dst, ev.Name, ev.Data), nil
}
func (p *passConv) end(dst []byte) []byte { return dst }
func (p *passConv) complete() bool        { return p.t.Done }
func (p *passConv) failed() bool          { return p.t.Failed }

// inboundConv translates OpenAI chunks into Anthropic events.
type inboundConv struct {
	st   *anthropic.InboundStream
	x    *exchange
	done bool
}

func (c *inboundConv) event(dst []byte, ev sse.Event) ([]byte, error) {
	if bytes.Equal(ev.Data, doneData) {
		c.done = true
		return c.st.Finish(dst), nil
	}
	out, err := c.st.Chunk(dst, ev.Data)
	c.x.usage, c.x.hasUsage = openaiUsage(c.st.Usage()), true
	if err != nil {
		return dst, &protocolError{err}
	}
	return out, nil
}
func (c *inboundConv) end(dst []byte) []byte { return dst }
func (c *inboundConv) complete() bool        { return c.done }
func (c *inboundConv) failed() bool          { return false }

// messagesUser is metadata.user_id of a Messages request, the end user for
// limits and usage. The body is decoded only when it names one.
func messagesUser(body []byte) string {
	if !bytes.Contains(body, []byte(`"user_id"`)) {
		return ""
	}
	var m struct {
		Metadata struct {
			UserID string `json:"user_id"`
		} `json:"metadata"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.Metadata.UserID
}

package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/route"
	"github.com/switchboard-gw/switchboard/internal/wire/openai"
)

func (s *Server) chatCompletions(x *exchange, r *http.Request) error {
	return s.proxy(x, r, provider.OpChat)
}

func (s *Server) embeddings(x *exchange, r *http.Request) error {
	return s.proxy(x, r, provider.OpEmbeddings)
}

// proxy is the same-dialect path of DESIGN.md §6: authenticate, read the body
// once, read only the fields the gateway needs while validating it, pick the
// upstream, rewrite only "model" (and force usage reporting on streams), and
// relay the answer.
func (s *Server) proxy(x *exchange, r *http.Request, op provider.Op) error {
	rt := x.rt
	key, err := rt.authenticate(r)
	if err != nil {
		return err
	}
	if key != nil {
		x.key = key.Name
	}
	in := getBuf()
	defer putBuf(in)
	body, err := readBody(r, rt.maxBody, in)
	if err != nil {
		return err
	}

	// Unknown top-level fields are collected in the one scanning pass and
	// judged after routing, because whether a field is allowed depends on the
	// provider chosen (extra_params).
	var unknownBuf [4]string
	unknown := unknownBuf[:0]
	collect := func(name string) bool { unknown = append(unknown, name); return true }
	var req openai.Request
	if op == provider.OpEmbeddings {
		req, err = openai.ScanEmbeddings(body, collect)
	} else {
		req, err = openai.ScanChat(body, collect)
	}
	if err != nil {
		return err
	}
	x.model = req.Model
	x.streaming = req.Stream

	m, ok := rt.table.Lookup(req.Model)
	if !ok {
		return notFound("model_not_found", fmt.Sprintf("model %q is not served by this gateway; GET /v1/models lists the models you can use", req.Model))
	}
	if !allows(key, req.Model) {
		return forbidden(fmt.Sprintf("key %q is not allowed to use model %q; ask the gateway operator to add it to the key's models", key.Name, req.Model))
	}
	tgt := m.Pick()
	p := rt.providers[tgt.Provider]
	for _, name := range unknown {
		if !p.AllowsParam(name) {
			return badRequest(name, fmt.Sprintf("unknown parameter %q: remove it, or, if provider %q supports it, add it to that provider's extra_params in the gateway config", name, p.Name))
		}
	}

	out := getBuf()
	defer putBuf(out)
	*out = req.Rewrite((*out)[:0], body, tgt.Model, req.Stream)
	return s.forward(x, r, p, tgt, op, &req, *out)
}

// Causes of an attempt's context ending, told apart with context.Cause.
var (
	errFirstByteTimeout = errors.New("first byte timeout")
	errTotalTimeout     = errors.New("total timeout")
)

// forward makes one upstream attempt and relays its answer.
func (s *Server) forward(x *exchange, r *http.Request, p *provider.Provider, tgt route.Target, op provider.Op, req *openai.Request, body []byte) error {
	x.provider, x.upstream = p.Name, tgt.Model
	x.attempts++
	h := x.Header()
	h.Set("X-Switchboard-Provider", p.Name)
	h.Set("X-Switchboard-Model", tgt.Model)
	h.Set("X-Switchboard-Attempts", strconv.Itoa(x.attempts))

	ctx := r.Context()
	if p.Timeouts.Total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, p.Timeouts.Total, errTotalTimeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var firstByte *time.Timer
	if p.Timeouts.FirstByte > 0 {
		firstByte = time.AfterFunc(p.Timeouts.FirstByte, func() { cancel(errFirstByteTimeout) })
	}
	a := &attempt{s: s, x: x, r: r, p: p, ctx: ctx, firstByte: firstByte}

	upreq, err := p.NewRequest(ctx, op, tgt.Model, body)
	if err != nil {
		return err
	}
	resp, err := p.Do(upreq)
	if err != nil {
		a.gotFirstByte()
		return a.failure(err)
	}
	defer resp.Body.Close()
	if req.Stream && resp.StatusCode/100 == 2 {
		return a.relayStream(resp, req.IncludeUsage)
	}
	return a.relayBody(resp)
}

// attempt is one upstream try of a request.
type attempt struct {
	s         *Server
	x         *exchange
	r         *http.Request
	p         *provider.Provider
	ctx       context.Context
	firstByte *time.Timer
}

func (a *attempt) gotFirstByte() {
	if a.firstByte != nil {
		a.firstByte.Stop()
	}
}

// failure classifies an error from the upstream exchange: the client going
// away, a timeout (504), or a broken connection (502). Provider secrets never
// appear: transport errors are reduced to their cause without the URL.
func (a *attempt) failure(err error) error {
	if a.r.Context().Err() != nil {
		return errClientGone
	}
	switch context.Cause(a.ctx) {
	case errFirstByteTimeout:
		return gatewayTimeout(fmt.Sprintf("provider %q sent no response within its first_byte timeout of %s; try again, or raise timeouts.first_byte for this provider", a.p.Name, a.p.Timeouts.FirstByte))
	case errTotalTimeout:
		return gatewayTimeout(fmt.Sprintf("provider %q did not finish within its total timeout of %s; ask for less output, or raise timeouts.total for this provider", a.p.Name, a.p.Timeouts.Total))
	}
	return badGateway(fmt.Sprintf("provider %q could not be reached or broke the connection: %s", a.p.Name, transportCause(err)))
}

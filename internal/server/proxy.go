package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/fetch"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/route"
	"github.com/switchboard-gw/switchboard/internal/tracing"
	"github.com/switchboard-gw/switchboard/internal/wire/anthropic"
	"github.com/switchboard-gw/switchboard/internal/wire/bedrock"
	"github.com/switchboard-gw/switchboard/internal/wire/chat"
	"github.com/switchboard-gw/switchboard/internal/wire/gemini"
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
	if op == provider.OpChat && bytes.Contains(body, []byte(`"template"`)) {
		if body, err = s.expandTemplate(x, r, body); err != nil {
			return err
		}
	}
	if body, err = s.checkRequest(x, rt.policyFor(key), body); err != nil {
		return err
	}

	// Unknown top-level fields are collected in the one scanning pass and
	// judged after routing, because whether a field is allowed depends on the
	// provider chosen (extra_params).
	var unknownBuf [4]string
	unknown := unknownBuf[:0]
	collect := func(name string) bool { unknown = append(unknown, name); return true }
	req, err := scanBody(op, body, collect)
	if err != nil {
		return err
	}
	x.model = req.Model
	x.streaming = req.Stream
	if op == provider.OpChat && bytes.Contains(body, []byte(`"response_format"`)) {
		x.jsonTool, _ = chat.JSONToolName(body)
	}

	m, err := s.resolveModel(x, r, key, req.Model, func() map[string]string { return req.Metadata(body) })
	if err != nil {
		return err
	}
	if x.policy != nil && len(x.policy.pre) > 0 {
		hooked, err := s.preHooks(x, r, key, body)
		if err != nil {
			return err
		}
		if !bytes.Equal(hooked, body) {
			body, unknown = hooked, unknown[:0]
			if req, err = scanBody(op, body, collect); err != nil {
				return err
			}
		}
	}
	s.notePrompt(x, key, body)
	if err := s.admit(x, r, key, req.Model, req.User, body); err != nil {
		return err
	}
	if s.cacheLookup(x, r, key, m, body, cacheRequest{stream: req.Stream, includeUsage: req.IncludeUsage,
		personal: personal(req.Metadata, body)}) {
		return nil
	}
	out := getBuf()
	defer putBuf(out)
	ri := routeInput{op: op, req: &req, body: body, unknown: unknown, key: key, out: out, sticky: sticky(m, x, req.User),
		ctx: r.Context(), fetcher: rt.fetcher}
	if req.Stream {
		if pol := x.policy; pol != nil && pol.respPII && pol.pii != nil && op == provider.OpChat {
			x.redact = newStreamRedactor(pol.pii)
		}
		return s.route(x, r, ri, m)
	}
	return s.idempotent(x, r, key, body, func() error {
		return s.held(x, r, key, body, func() error { return s.route(x, r, ri, m) })
	})
}

// scanBody validates an OpenAI request body and reads the fields the
// gateway needs, handing unknown top-level fields to collect.
func scanBody(op provider.Op, body []byte, collect func(string) bool) (openai.Request, error) {
	if op == provider.OpEmbeddings {
		return openai.ScanEmbeddings(body, collect)
	}
	return openai.ScanChat(body, collect)
}

// resolveModel applies the routing rules to the model the client asked for,
// finds the model, and checks the key may use it.
func (s *Server) resolveModel(x *exchange, r *http.Request, key *principal, asked string, metadata func() map[string]string) (*route.Model, error) {
	rt := x.rt
	name := asked
	if !rt.rules.Empty() {
		caller := route.Caller{Model: asked, Tags: r.Header.Get("X-Switchboard-Tags"), Key: x.key, Metadata: metadata}
		caller.Team = key.teamName()
		if rule := rt.rules.Match(caller); rule != nil {
			name = rule.Model
			x.Header().Set("X-Switchboard-Rule", rule.Name)
		}
	}
	m, ok := rt.table.Lookup(name)
	if ok {
		x.modelLabel = m.Name
	}
	if !ok {
		return nil, notFound("model_not_found", fmt.Sprintf("model %q is not served by this gateway; GET /v1/models lists the models you can use", asked))
	}
	if !allows(key, asked) {
		return nil, forbidden(fmt.Sprintf("%s is not allowed to use model %q; ask the gateway operator to add it to the models of the key or its team", callerWords(key), asked))
	}
	return m, nil
}

// sticky is the hash that makes a sticky model's choice stable for the
// caller: the end user (for sticky: user, when the request names one), else
// the key.
func sticky(m *route.Model, x *exchange, user string) uint64 {
	if m.Sticky == "" {
		return 0
	}
	caller := x.key
	if m.Sticky == "user" && user != "" {
		caller = user
	}
	return route.StickyHash(caller)
}

// routeInput is what every attempt of one request needs.
type routeInput struct {
	op      provider.Op
	req     *openai.Request    // an OpenAI client's request, or
	areq    *anthropic.Request // an Anthropic Messages client's
	body    []byte             // the client's body
	unknown []string           // top-level fields outside the OpenAI schema
	key     *principal
	out     *[]byte // buffer for the rewritten body
	sticky  uint64
	ctx     context.Context // the request's, for fetching images
	fetcher *fetch.Fetcher
}

// route runs the attempts of one request: targets of the model chosen by
// its strategy (skipping open breakers, preferring untried targets),
// retries of retryable failures with backoff within the retry budget, then
// the model's fallbacks for the failure classes it lists. All of it happens
// before the first byte reaches the client; after that an attempt's outcome
// is final (DESIGN.md §5).
func (s *Server) route(x *exchange, r *http.Request, in routeInput, m *route.Model) error {
	rt := x.rt
	s.budget.Request()
	chain := []*route.Model{m}
	for _, name := range m.Fallbacks {
		if fm, ok := rt.table.Lookup(name); ok && allows(in.key, name) {
			chain = append(chain, fm)
		}
	}
	var last *Error
	for ci, cm := range chain {
		if ci > 0 && (last == nil || !m.FallbackOn[last.class]) {
			break
		}
		var triedBuf [8]bool
		tried := triedBuf[:0]
		for range cm.Targets {
			tried = append(tried, false)
		}
		for n := 0; n <= cm.Retries; n++ {
			i, ok, wait := cm.Choose(s.health, tried, in.sticky)
			if !ok {
				if last == nil {
					last = unavailable(cm.Name, wait)
				}
				break
			}
			tgt := cm.Targets[i]
			if x.attempts > 0 {
				if !s.budget.Retry() {
					return last
				}
				if n > 0 {
					// Another attempt on the same model; the first on a
					// fallback is counted as a fallback instead.
					s.metrics.Retry(x.provider, last.class)
				}
				// The same target again: back off first, unless it was a
				// rate limit on one key and the provider has another.
				if tried[i] && !(last.class == classRateLimit && rt.providers[tgt.Provider].HasFreeKey()) {
					d := backoff(rt.cfg.Routing, n, last.hint)
					if d < 0 {
						break // it asked for a longer wait than we hold a request for
					}
					if err := sleep(r.Context(), d); err != nil {
						return errClientGone
					}
				}
			}
			tried[i] = true
			p := rt.providers[tgt.Provider]
			upBody, err := prepare(in, p, tgt, cm)
			if err != nil {
				if x.attempts == 0 && ci == 0 {
					return err
				}
				continue // a fallback that cannot take this request
			}
			if ok, _ := s.health.Allow(tgt.Dep); !ok {
				continue // lost the half-open probe slot to another request
			}
			if ci > 0 && x.Header().Get("X-Switchboard-Fallback") != cm.Name {
				x.Header().Set("X-Switchboard-Fallback", cm.Name)
				s.metrics.Fallback(m.Name, cm.Name)
			}
			err = s.forward(x, r, p, tgt, in.op, in.stream(), in.includeUsage(), upBody)
			e, isErr := errors.AsType[*Error](err)
			s.health.Done(tgt.Dep, isErr && unhealthy(e.class))
			if err == nil {
				return nil
			}
			if x.wroteHeader || !isErr || e.class == "" {
				return err
			}
			last = e
			if !retryable(e.class) {
				break
			}
		}
	}
	if last == nil {
		return unavailable(m.Name, 0)
	}
	return last
}

// shapeFor combines a model's and a key's request bounds, the stricter
// winning.
func shapeFor(m *route.Model, k *principal) openai.Shape {
	s := m.Shape
	if k != nil {
		s.DefaultMaxTokens = stricter(s.DefaultMaxTokens, k.shape.DefaultMaxTokens)
		s.MaxTokens = stricter(s.MaxTokens, k.shape.MaxTokens)
		s.MaxTemperature = stricter(s.MaxTemperature, k.shape.MaxTemperature)
	}
	return openai.Shape{DefaultMaxTokens: s.DefaultMaxTokens, MaxMaxTokens: s.MaxTokens, MaxTemperature: s.MaxTemperature}
}

// stricter is the smaller non-zero bound (0 = no bound).
func stricter[T int64 | float64](a, b T) T {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// prepare checks that provider p can take the request and builds the body
// sent to it: the client's body with model rewritten and shaping applied
// (same dialect), or translated (another dialect).
func prepare(in routeInput, p *provider.Provider, tgt route.Target, cm *route.Model) ([]byte, error) {
	if in.areq != nil { // an Anthropic Messages client
		return prepareMessages(in, p, tgt)
	}
	if p.Dialect != provider.DialectOpenAI && in.op != provider.OpChat {
		return nil, badRequest("model", fmt.Sprintf("model %q is served by provider %q (%s), which has no embeddings API in this gateway; use an embeddings model", cm.Name, p.Name, p.Type))
	}
	// Unknown fields are judged by the translator for other dialects.
	if name, bad := disallowed(p, in.unknown); bad && p.Dialect == provider.DialectOpenAI {
		return nil, badRequest(name, fmt.Sprintf("unknown parameter %q: remove it, or, if provider %q supports it, add it to that provider's extra_params in the gateway config", name, p.Name))
	}
	if rej := p.Rejects(); len(rej) > 0 {
		if name, bad := openai.FindField(in.body, rej); bad {
			return nil, badRequest(name, fmt.Sprintf("parameter %q is not supported by provider %q (type %s); remove it for this model", name, p.Name, p.Type))
		}
	}
	// stream_options is asked for only from OpenAI-dialect upstreams; the
	// others report usage on their own.
	forceUsage := in.req.Stream && p.Dialect == provider.DialectOpenAI && !p.NoStreamOptions
	// When nothing changes, the client's body is sent as it is (no copy of
	// a large prompt); out must then not take it, as it goes back to the
	// buffer pool on its own.
	body, changed := in.req.Rewritten((*in.out)[:0], in.body, tgt.Model, forceUsage, shapeFor(cm, in.key))
	if changed {
		*in.out = body
	}
	if p.Dialect == provider.DialectAnthropic {
		return anthropic.ToMessages(body, tgt.Model, anthropic.Options{DefaultMaxTokens: p.DefaultMaxTokens})
	}
	return toCloud(in, p, body)
}

// toCloud translates an OpenAI chat body for a Gemini or Bedrock provider,
// first inlining image URLs (those providers take only inline images); other
// dialects get the body as it is.
func toCloud(in routeInput, p *provider.Provider, body []byte) ([]byte, error) {
	if p.Dialect != provider.DialectGemini && p.Dialect != provider.DialectBedrock {
		return body, nil
	}
	if needsInlineImages(body) {
		var err error
		if body, err = inlineImages(in.ctx, in.fetcher, body); err != nil {
			return nil, err
		}
	}
	if p.Dialect == provider.DialectGemini {
		return gemini.ToGemini(body, gemini.Options{})
	}
	return bedrock.ToConverse(body, bedrock.Options{DefaultMaxTokens: p.DefaultMaxTokens})
}

func (in routeInput) stream() bool {
	if in.areq != nil {
		return in.areq.Stream
	}
	return in.req.Stream
}

// includeUsage: Anthropic clients always get usage; OpenAI clients when
// they asked.
func (in routeInput) includeUsage() bool {
	return in.areq != nil || in.req.IncludeUsage
}

func disallowed(p *provider.Provider, unknown []string) (string, bool) {
	for _, name := range unknown {
		if !p.AllowsParam(name) {
			return name, true
		}
	}
	return "", false
}

// unavailable is the 503 for a model whose every deployment's circuit is
// open.
func unavailable(model string, wait time.Duration) *Error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &Error{Status: http.StatusServiceUnavailable, Type: "api_error", Code: "no_healthy_deployment", RetryAfter: strconv.Itoa(secs),
		Message: fmt.Sprintf("every deployment of model %q is failing and its circuit is open; retry in %ds or use another model", model, secs)}
}

// backoff is the wait before retry n (1-based) of the same target:
// exponential with full jitter, or the upstream's hint when it gave one. It
// is negative when the hint exceeds max_retry_wait.
func backoff(c config.Routing, n int, hint time.Duration) time.Duration {
	if hint > 0 {
		if hint > c.MaxRetryWait.D() {
			return -1
		}
		return hint
	}
	ceil := c.BackoffBase.D() << min(n-1, 20)
	if ceil <= 0 || ceil > c.BackoffMax.D() {
		ceil = c.BackoffMax.D()
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Causes of an attempt's context ending, told apart with context.Cause.
var (
	errFirstByteTimeout = errors.New("first byte timeout")
	errTotalTimeout     = errors.New("total timeout")
)

// forward makes one upstream attempt and relays its answer.
func (s *Server) forward(x *exchange, r *http.Request, p *provider.Provider, tgt route.Target, op provider.Op, stream, includeUsage bool, body []byte) (err error) {
	x.provider, x.upstream = p.Name, tgt.Model
	x.attempts++
	// Pre-built value slices and canonical keys: no allocation per header.
	h := x.Header()
	h["X-Switchboard-Provider"] = p.NameHeader
	h["X-Switchboard-Model"] = tgt.ModelHeader
	h["X-Switchboard-Attempts"] = attemptsHeader(x.attempts)

	// One context and one timer bound the attempt: the timer fires first at
	// the first-byte deadline and, once the first byte is in, is re-armed
	// for the rest of the total timeout (see gotFirstByte).
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	a := &attempt{s: s, x: x, r: r, p: p, ctx: ctx, cancel: cancel, start: time.Now()}
	if d := a.firstDeadline(); d > 0 {
		a.timer = time.AfterFunc(d, a.expire)
		defer a.timer.Stop()
	}

	upreq, keyIdx, err := p.NewRequest(ctx, op, tgt.Model, stream, body)
	if err != nil {
		return err
	}
	if s.tracer.Enabled() {
		sctx, span := s.tracer.StartAttempt(r.Context(), tracing.Attempt{Operation: opName(op), ProviderType: p.Type,
			ProviderName: p.Name, Model: tgt.Model, ServerAddress: upreq.URL.Host, Number: x.attempts})
		s.tracer.Inject(sctx, upreq.Header)
		defer func() { tracing.EndAttempt(span, attemptOutcome(x, tgt, err)) }()
	} else {
		tracing.PassThrough(r.Header, upreq.Header)
	}
	if beta := r.Header["Anthropic-Beta"]; beta != nil && x.anthropic && p.Dialect == provider.DialectAnthropic {
		upreq.Header["Anthropic-Beta"] = beta // the client's opt-in features pass through with its body
	}
	end := tgt.Dep.Start()
	a.sent = time.Now()
	s.metrics.UpstreamInFlight(p.Name, 1)
	defer func() {
		if err != nil {
			a.fb = 0 // a fast failure must not make the deployment look fast
		}
		end(a.fb)
		x.upstreamTime += time.Since(a.sent)
		s.metrics.UpstreamInFlight(p.Name, -1)
	}()
	resp, err := p.Do(upreq)
	if err != nil {
		a.gotFirstByte()
		return a.failure(err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode/100 == 2
	switch anth := p.Dialect == provider.DialectAnthropic; {
	case x.anthropic && p.Dialect == provider.DialectGemini:
		err = a.relayGeminiAsMessages(resp, stream)
	case x.anthropic && p.Dialect == provider.DialectBedrock:
		err = a.relayBedrockAsMessages(resp, stream)
	case x.anthropic && anth && stream && ok:
		err = a.relayMessagesStream(resp)
	case x.anthropic && anth:
		err = a.relayMessagesBody(resp)
	case x.anthropic && stream && ok:
		err = a.relayInboundStream(resp)
	case x.anthropic:
		err = a.relayInboundBody(resp)
	case anth && stream && ok:
		err = a.relayAnthropicStream(resp, includeUsage)
	case anth:
		err = a.relayAnthropicBody(resp)
	case p.Dialect == provider.DialectGemini && stream && ok:
		err = a.relayGeminiStream(resp, includeUsage)
	case p.Dialect == provider.DialectGemini:
		err = a.relayGeminiBody(resp)
	case p.Dialect == provider.DialectBedrock && stream && ok:
		err = a.relayBedrockStream(resp, includeUsage)
	case p.Dialect == provider.DialectBedrock:
		err = a.relayBedrockBody(resp)
	case stream && ok:
		err = a.relayStream(resp, includeUsage)
	default:
		err = a.relayBody(resp)
	}
	if e, ok := errors.AsType[*Error](err); ok && e.class == classRateLimit {
		cool := e.hint
		if cool <= 0 {
			cool = time.Second
		}
		p.CoolKey(keyIdx, cool)
	}
	return err
}

// attempt is one upstream try of a request.
type attempt struct {
	s       *Server
	x       *exchange
	r       *http.Request
	p       *provider.Provider
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer   // the attempt's deadline; nil without timeouts
	firstIn atomic.Bool   // the first byte arrived: the timer means total now
	start   time.Time     // when the attempt began
	sent    time.Time     // when the request went upstream
	fb      time.Duration // time to the first response byte, 0 until then
}

// firstDeadline is when the attempt's timer must first fire: the sooner of
// the first-byte and the total timeout (0 = neither is set).
func (a *attempt) firstDeadline() time.Duration {
	fb, total := a.p.Timeouts.FirstByte, a.p.Timeouts.Total
	switch {
	case fb > 0 && (total <= 0 || fb < total):
		return fb
	default:
		return total
	}
}

// expire ends the attempt with the cause of the deadline that passed.
func (a *attempt) expire() {
	fb, total := a.p.Timeouts.FirstByte, a.p.Timeouts.Total
	if !a.firstIn.Load() && fb > 0 && (total <= 0 || fb < total) {
		a.cancel(errFirstByteTimeout)
		return
	}
	a.cancel(errTotalTimeout)
}

func (a *attempt) gotFirstByte() {
	if a.fb != 0 {
		return
	}
	a.fb = max(time.Since(a.sent), 1)
	a.firstIn.Store(true)
	if a.timer == nil || a.p.Timeouts.FirstByte <= 0 {
		return // the timer, if any, is already the total deadline
	}
	if !a.timer.Stop() {
		return // it fired: the attempt is being cancelled
	}
	if total := a.p.Timeouts.Total; total > 0 {
		a.timer.Reset(max(total-time.Since(a.start), 0))
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

// attemptsValues are the x-switchboard-attempts values of the first few
// attempts, shared so that setting the header does not allocate.
var attemptsValues = [...][]string{{"0"}, {"1"}, {"2"}, {"3"}, {"4"}, {"5"}, {"6"}, {"7"}, {"8"}}

func attemptsHeader(n int) []string {
	if n < len(attemptsValues) {
		return attemptsValues[n]
	}
	return []string{strconv.Itoa(n)}
}

func opName(op provider.Op) string {
	if op == provider.OpEmbeddings {
		return "embeddings"
	}
	return "chat"
}

// attemptOutcome is what a trace records of one upstream attempt.
func attemptOutcome(x *exchange, tgt route.Target, err error) tracing.Outcome {
	o := tracing.Outcome{ResponseModel: tgt.Model, Status: http.StatusOK}
	if err == nil {
		o.InputTokens, o.OutputTokens = x.usage.PromptTokens, x.usage.CompletionTokens
		if x.status != 0 {
			o.Status = x.status
		}
		return o
	}
	e := toError(err)
	o.Status, o.ErrorClass = e.Status, e.class
	if o.ErrorClass == "" {
		o.ErrorClass = "error"
	}
	return o
}

package server

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/limit"
	"github.com/switchboard-gw/switchboard/internal/privacy"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/usage"
)

// admission is what the limit hop took for a request, given back or
// reconciled when it finishes.
type admission struct {
	rules   []limit.Rule
	budgets []limit.Budget
	tokens  int64 // estimated tokens taken from the token buckets
	leased  bool  // parallel slots are held under the request id
	hasTPM  bool
}

// admit is the limit hop (DESIGN.md: authenticate → limit → route): the
// budgets of the key and its team, then the rate limits of the key, the
// team, the model and the end user, all or nothing. It sets the
// x-ratelimit-* headers, and refuses with 429 and retry-after.
func (s *Server) admit(x *exchange, r *http.Request, p *principal, model, user string, body []byte) error {
	rt := x.rt
	if p != nil && p.user != "" {
		user = p.user // an identity that names its user wins over the body
	}
	x.user = user
	var a admission
	if p != nil {
		if !zeroLimits(p.limits) {
			a.rules = append(a.rules, rule("key:"+p.keyID, p.limits))
		}
		if p.budget.USD > 0 {
			a.budgets = append(a.budgets, limit.Budget{Scope: "key:" + p.keyID, USD: p.budget.USD, Period: p.budget.Period})
		}
		if t := p.team; t != nil {
			if !zeroLimits(t.limits) {
				a.rules = append(a.rules, rule("team:"+t.name, t.limits))
			}
			if t.budget.USD > 0 {
				a.budgets = append(a.budgets, limit.Budget{Scope: "team:" + t.name, USD: t.budget.USD, Period: t.budget.Period})
			}
		}
	}
	if ml, ok := rt.cfg.Limits.Models[model]; ok {
		a.rules = append(a.rules, limit.Rule{Scope: "model:" + model, RPM: ml.RPM, TPM: ml.TPM, MaxParallel: ml.MaxParallel})
	}
	if ul := rt.cfg.Limits.User; user != "" && (ul.RPM|ul.TPM|ul.MaxParallel) != 0 {
		a.rules = append(a.rules, limit.Rule{Scope: "user:" + user, RPM: ul.RPM, TPM: ul.TPM, MaxParallel: ul.MaxParallel})
	}
	if len(a.rules) == 0 && len(a.budgets) == 0 {
		return nil
	}
	_, span := s.tracer.Hop(r.Context(), "limit")
	defer span.End()
	ctx := r.Context()
	now := time.Now()
	if len(a.budgets) > 0 {
		over, spent, reset, err := s.spender.Check(ctx, a.budgets, now)
		switch {
		case err != nil:
			// Fail open: an unreachable Redis must not take the gateway down;
			// the charge after the call still lands when it is back.
			s.log.Error("budget check failed; letting the request through", "request_id", x.id, "error", err)
		case over != nil:
			x.refused = "budget"
			wait := max(reset.Sub(now), time.Second)
			return &Error{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "budget_exceeded",
				RetryAfter: strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10),
				Message: fmt.Sprintf("the %s budget of %s is used up: $%.4f spent of $%.2f this %s period, which resets at %s; ask the gateway operator to raise it",
					over.Period, scopeName(over.Scope, p), spent, over.USD, over.Period, reset.UTC().Format(time.RFC3339))}
		}
	}
	for _, rl := range a.rules {
		if rl.TPM > 0 {
			a.hasTPM = true
		}
	}
	if a.hasTPM {
		a.tokens = usage.EstimateInput(body)
	}
	if len(a.rules) > 0 {
		d, err := s.limiter.Admit(ctx, a.rules, a.tokens, x.id)
		if err != nil {
			s.log.Error("rate limit check failed; letting the request through", "request_id", x.id, "error", err)
			return nil
		}
		setLimitHeaders(x.Header(), d)
		if !d.Allowed {
			x.refused = "rate_limit"
			return rateLimited(d, p)
		}
		a.leased = true
	}
	x.admitted = &a
	return nil
}

func rule(scope string, l store.Limits) limit.Rule {
	return limit.Rule{Scope: scope, RPM: l.RPM, TPM: l.TPM, MaxParallel: l.MaxParallel}
}

func zeroLimits(l store.Limits) bool { return l.RPM == 0 && l.TPM == 0 && l.MaxParallel == 0 }

// scopeWords turns a limit scope into words for a message.
func scopeWords(scope string) string {
	kind, name, _ := cutScope(scope)
	switch kind {
	case "key":
		return "key " + strconv.Quote(name)
	case "team":
		return "team " + strconv.Quote(name)
	case "model":
		return "model " + strconv.Quote(name)
	case "user":
		return "end user " + strconv.Quote(name)
	}
	return scope
}

func cutScope(scope string) (kind, name string, ok bool) {
	for i := 0; i < len(scope); i++ {
		if scope[i] == ':' {
			return scope[:i], scope[i+1:], true
		}
	}
	return "", scope, false
}

// scopeName is scopeWords, with a key named by its name rather than its id.
func scopeName(scope string, p *principal) string {
	if p != nil && scope == "key:"+p.keyID {
		return callerWords(p)
	}
	return scopeWords(scope)
}

func rateLimited(d limit.Decision, p *principal) *Error {
	wait := max(d.RetryAfter, time.Second)
	e := &Error{Status: http.StatusTooManyRequests, Type: "rate_limit_error",
		RetryAfter: strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10)}
	who := scopeName(d.Scope, p)
	switch d.Reason {
	case "tokens":
		e.Code = "tokens_rate_limit_exceeded"
		e.Message = fmt.Sprintf("%s is over its tokens-per-minute limit; retry after %s, send a smaller request, or ask the gateway operator to raise its tpm", who, wait.Round(time.Second))
	case "parallel":
		e.Code = "concurrency_limit_exceeded"
		e.Message = fmt.Sprintf("%s already has its maximum of concurrent requests in flight; retry when one finishes, or ask the gateway operator to raise its max_parallel", who)
	default:
		e.Code = "rate_limit_exceeded"
		e.Message = fmt.Sprintf("%s is over its requests-per-minute limit; retry after %s, or ask the gateway operator to raise its rpm", who, wait.Round(time.Second))
	}
	return e
}

// setLimitHeaders writes OpenAI's x-ratelimit-* headers for the tightest
// request and token windows.
func setLimitHeaders(h http.Header, d limit.Decision) {
	if w := d.Requests; w.Limit > 0 {
		h.Set("X-Ratelimit-Limit-Requests", strconv.FormatInt(w.Limit, 10))
		h.Set("X-Ratelimit-Remaining-Requests", strconv.FormatInt(max(w.Remaining, 0), 10))
		h.Set("X-Ratelimit-Reset-Requests", resetString(w.Reset))
	}
	if w := d.Tokens; w.Limit > 0 {
		h.Set("X-Ratelimit-Limit-Tokens", strconv.FormatInt(w.Limit, 10))
		h.Set("X-Ratelimit-Remaining-Tokens", strconv.FormatInt(max(w.Remaining, 0), 10))
		h.Set("X-Ratelimit-Reset-Tokens", resetString(w.Reset))
	}
}

// resetString writes a reset like OpenAI does ("1s", "6m0s", "120ms").
func resetString(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(time.Second)
	} else {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

// settle is the accounting of the finish hop: parallel slots given back,
// token buckets reconciled with the real usage, the cost charged to the
// budgets (and alerts sent), and the usage record queued.
func (s *Server) settle(x *exchange) {
	rt := x.rt
	cost, _ := rt.prices.Cost(x.upstream, x.usage.PromptTokens, x.usage.CompletionTokens, x.usage.CachedTokens)
	if x.cacheHit {
		cost = 0 // free in the budget; x.saved is what it would have cost
	}
	x.cost = cost
	s.cacheStore(x, cost)
	if a := x.admitted; a != nil {
		ctx, cancel := ctxTimeout(x.r, 2*time.Second)
		if a.leased {
			if err := s.limiter.Release(ctx, a.rules, x.id); err != nil {
				s.log.Error("releasing rate limit slots failed", "request_id", x.id, "error", err)
			}
			if real := x.usage.PromptTokens + x.usage.CompletionTokens; a.hasTPM && real != a.tokens {
				if err := s.limiter.Adjust(ctx, a.rules, real-a.tokens); err != nil {
					s.log.Error("reconciling token limits failed", "request_id", x.id, "error", err)
				}
			}
		}
		if cost > 0 && len(a.budgets) > 0 {
			crossed, err := s.spender.Charge(ctx, a.budgets, cost, time.Now())
			if err != nil {
				s.log.Error("charging budgets failed", "request_id", x.id, "error", err)
			}
			for _, c := range crossed {
				s.log.Warn("budget threshold crossed", "scope", c.Budget.Scope, "threshold", c.Threshold, "spent_usd", c.SpentUSD, "budget_usd", c.Budget.USD)
				if rt.alerter != nil {
					rt.alerter.Send(c)
				}
			}
		}
		cancel()
	}
	if s.usage == nil {
		return
	}
	p := x.principal
	rec := store.UsageRecord{
		RequestID: x.id, Time: x.start.UTC(), KeyName: x.key, Team: p.teamName(), User: x.user,
		Endpoint: x.r.URL.Path, ModelAsked: x.model, Provider: x.provider, ModelUsed: x.upstream,
		InputTokens: x.usage.PromptTokens, OutputTokens: x.usage.CompletionTokens, CachedTokens: x.usage.CachedTokens,
		CostUSD: cost, Latency: time.Since(x.start), TTFT: x.ttfb, Status: x.status, ErrorClass: x.errClass,
		Attempts: x.attempts, CacheHit: x.cacheHit, Stream: x.streaming, Template: x.template, SavedUSD: x.saved,
	}
	if p != nil {
		rec.KeyID = p.keyID
	}
	if x.privacy.HashOn {
		rec.PromptHash = x.promptHash
		if x.privacy.Raw {
			text := privacy.Text(x.captured)
			rec.ResponseHash = s.hasher(rt).Sum(text)
			rec.PromptText, rec.ResponseText = x.promptText, string(text)
		} else {
			rec.ResponseHash = s.hasher(rt).SumText(x.captured)
		}
	}
	s.usage.Record(rec)
}

package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// principal is who a request runs as: a static key, a virtual key, a JWT
// subject or a client certificate. A nil *principal is the admin key or open
// mode, which may call everything and has no limits of its own.
type principal struct {
	kind      string // static | virtual | jwt | mtls
	name      string // shown in logs, usage and messages
	keyID     string // usage and budget scope: a virtual key's id, "cfg:NAME" for static keys, "jwt:SUB", "mtls:NAME"
	user      string // the end user the identity itself names (JWT), "" otherwise
	models    []string
	endpoints []string
	shape     config.Shape
	privacy   string // the key's prompt privacy mode, "" for the global one
	consent   bool   // the key's owner lets raw prompts be sampled
	noCache   bool   // never use the response cache
	policy    string // a named policy, "" for the team's or the default
	limits    store.Limits
	budget    store.Budget
	team      *teamInfo // nil: no team
}

// teamName is the principal's team, "" for none.
func (p *principal) teamName() string {
	if p == nil || p.team == nil {
		return ""
	}
	return p.team.name
}

// teamInfo is what a team imposes on its members.
type teamInfo struct {
	name   string
	policy string // a named policy, "" for the default
	models []string
	limits store.Limits
	budget store.Budget
}

// keyEntry is a cached virtual-key lookup: the key (nil when the hash is
// unknown, so junk keys do not reach the store on every request) and when it
// was read.
type keyEntry struct {
	key *store.Key
	at  time.Time
}

type teamEntry struct {
	team *teamInfo // nil: no such team
	at   time.Time
}

// identityCaches bound the store lookups of virtual keys and teams: a replica
// trusts what it read for auth.key_cache_ttl.
type identityCaches struct {
	keys  *otter.Cache[string, keyEntry]
	teams *otter.Cache[string, teamEntry]
}

// cacheLife is how long an entry may stay at most; the TTL of the current
// config (auth.key_cache_ttl) is checked on read, so a reload shortening it
// takes effect at once.
const cacheLife = 10 * time.Minute

func newIdentityCaches() *identityCaches {
	return &identityCaches{
		keys: otter.Must(&otter.Options[string, keyEntry]{MaximumSize: 100_000,
			ExpiryCalculator: otter.ExpiryWriting[string, keyEntry](cacheLife)}),
		teams: otter.Must(&otter.Options[string, teamEntry]{MaximumSize: 10_000,
			ExpiryCalculator: otter.ExpiryWriting[string, teamEntry](cacheLife)}),
	}
}

func (c *identityCaches) close() {
	c.keys.StopAllGoroutines()
	c.teams.StopAllGoroutines()
}

// authenticate finds who is calling. It returns nil with no error in open
// mode and for the admin key (which may call everything).
func (s *Server) authenticate(x *exchange, r *http.Request) (*principal, error) {
	rt := x.rt
	secret := bearer(r)
	if secret == "" {
		if p, ok, err := s.certPrincipal(x, r); ok || err != nil {
			return p, err
		}
		if rt.open {
			return nil, nil
		}
		return nil, unauthorized("missing API key: send it as \"Authorization: Bearer KEY\" or \"x-api-key: KEY\"")
	}
	h := sha256.Sum256([]byte(secret))
	if p, ok := rt.keys[h]; ok {
		return s.withTeam(x, p)
	}
	if rt.hasAdmin && subtle.ConstantTimeCompare(h[:], rt.adminHash[:]) == 1 {
		return nil, nil
	}
	if strings.HasPrefix(secret, auth.SecretPrefix) && s.store != nil {
		return s.virtualKey(x, r, secret)
	}
	if rt.jwt != nil && auth.LooksLikeJWT(secret) {
		return s.jwtPrincipal(x, r, secret)
	}
	if rt.open {
		return nil, nil
	}
	return nil, unauthorized("invalid API key: check the key you send; keys are issued by the gateway's operator, not by the upstream provider")
}

// virtualKey looks a virtual key up (through the cache) and refuses revoked,
// expired and rotated-out keys with a message saying which.
func (s *Server) virtualKey(x *exchange, r *http.Request, secret string) (*principal, error) {
	rt := x.rt
	hash := auth.HashSecret(secret)
	now := time.Now()
	e, ok := s.ids.keys.GetIfPresent(hash)
	if !ok || now.Sub(e.at) > rt.cfg.Auth.KeyCacheTTL.D() {
		k, err := s.store.KeyByHash(r.Context(), hash, now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = keyEntry{at: now}
		case err != nil:
			s.log.Error("key lookup failed", "request_id", x.id, "error", err)
			return nil, &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "store_unavailable", RetryAfter: "1",
				Message: "the gateway cannot check virtual keys right now (its store is unreachable); retry shortly"}
		default:
			e = keyEntry{key: &k, at: now}
		}
		s.ids.keys.Set(hash, e)
	}
	k := e.key
	// The store found the key by its hash; comparing again in constant time
	// keeps the decision itself free of timing differences.
	if k != nil && !auth.EqualHash(k.Hash, hash) && !auth.EqualHash(k.OldHash, hash) {
		k = nil
	}
	if k == nil {
		return nil, unauthorized("invalid API key: this virtual key does not exist (or was rotated and its grace period is over); check the key you send or ask the gateway operator for a new one")
	}
	switch {
	case !k.RevokedAt.IsZero():
		return nil, unauthorized(fmt.Sprintf("API key %q was revoked at %s; ask the gateway operator for a new key", k.Name, k.RevokedAt.UTC().Format(time.RFC3339)))
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return nil, unauthorized(fmt.Sprintf("API key %q expired at %s; ask the gateway operator for a new key", k.Name, k.ExpiresAt.UTC().Format(time.RFC3339)))
	case k.Hash != hash && !now.Before(k.OldUntil):
		return nil, unauthorized(fmt.Sprintf("API key %q was rotated and this secret stopped working at %s; use the new secret", k.Name, k.OldUntil.UTC().Format(time.RFC3339)))
	}
	p := &principal{kind: "virtual", name: k.Name, keyID: k.ID, models: k.Models, endpoints: k.Endpoints,
		limits: k.Limits, budget: k.Budget, privacy: k.Privacy, consent: k.LogPrompts,
		policy: k.Policy, noCache: k.NoCache}
	if k.Team != "" {
		p.team = &teamInfo{name: k.Team}
	}
	return s.withTeam(x, p)
}

// jwtPrincipal verifies a bearer JWT and maps its claims.
func (s *Server) jwtPrincipal(x *exchange, r *http.Request, token string) (*principal, error) {
	c, err := x.rt.jwt.Verify(r.Context(), token)
	if errors.Is(err, auth.ErrKeysUnavailable) {
		// The identity provider's outage, not the caller's fault: a 503 to
		// retry, without the JWKS URL.
		s.log.Error("JWT keys unavailable", "request_id", x.id, "error", err)
		return nil, &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "jwks_unavailable", RetryAfter: "5",
			Message: "the gateway cannot verify bearer tokens right now (its identity provider's keys are unreachable); retry shortly"}
	}
	if err != nil {
		return nil, unauthorized("invalid bearer token: " + err.Error())
	}
	p := &principal{kind: "jwt", name: c.Subject, keyID: "jwt:" + c.Subject, user: c.User, models: c.Models}
	if c.Team != "" {
		p.team = &teamInfo{name: c.Team}
	}
	return s.withTeam(x, p)
}

// certPrincipal names the caller by its verified client certificate, when
// mTLS is on and no key was sent.
func (s *Server) certPrincipal(x *exchange, r *http.Request) (*principal, bool, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, false, nil
	}
	m := x.rt.cfg.Auth.MTLS
	name, err := auth.Principal(r.TLS.VerifiedChains[0][0], m.Principal)
	if err != nil {
		return nil, true, unauthorized("client certificate: " + err.Error())
	}
	p := &principal{kind: "mtls", name: name, keyID: "mtls:" + name}
	if t := m.Teams[name]; t != "" {
		p.team = &teamInfo{name: t}
	}
	p, err = s.withTeam(x, p)
	return p, true, err
}

// withTeam resolves the principal's team by name: a config team, else one
// of the store (cached like keys). A team nobody defined imposes nothing but
// still groups usage.
func (s *Server) withTeam(x *exchange, p *principal) (*principal, error) {
	if p.team == nil {
		return p, nil
	}
	name := p.team.name
	if t, ok := x.rt.teams[name]; ok {
		if p.team == t {
			return p, nil // a static key whose config team Apply resolved
		}
		q := *p
		q.team = t
		return &q, nil
	}
	if s.store == nil {
		return p, nil
	}
	now := time.Now()
	e, ok := s.ids.teams.GetIfPresent(name)
	if !ok || now.Sub(e.at) > x.rt.cfg.Auth.KeyCacheTTL.D() {
		t, err := s.store.Team(x.r.Context(), name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = teamEntry{at: now}
		case err != nil:
			s.log.Error("team lookup failed", "request_id", x.id, "error", err)
			return nil, &Error{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "store_unavailable", RetryAfter: "1",
				Message: "the gateway cannot read team settings right now (its store is unreachable); retry shortly"}
		default:
			e = teamEntry{team: &teamInfo{name: t.Name, models: t.Models, limits: t.Limits, budget: t.Budget, policy: t.Policy}, at: now}
		}
		s.ids.teams.Set(name, e)
	}
	if e.team == nil {
		return p, nil
	}
	q := *p
	q.team = e.team
	return &q, nil
}

// staticPrincipal is a config key as a principal.
func staticPrincipal(k *config.Key) *principal {
	p := &principal{kind: "static", name: k.Name, keyID: "cfg:" + k.Name, models: k.Models, endpoints: k.Endpoints,
		shape: k.Shape, limits: store.Limits{RPM: k.RPM, TPM: k.TPM, MaxParallel: k.MaxParallel},
		privacy: k.Privacy, consent: k.LogPrompts, noCache: k.NoCache, policy: k.Policy,
		budget: store.Budget{USD: k.Budget.USD, Period: k.Budget.Period}}
	if k.Team != "" {
		p.team = &teamInfo{name: k.Team}
	}
	return p
}

func configTeams(ts []config.Team) map[string]*teamInfo {
	out := make(map[string]*teamInfo, len(ts))
	for _, t := range ts {
		out[t.Name] = &teamInfo{name: t.Name, models: t.Models, policy: t.Policy,
			limits: store.Limits{RPM: t.RPM, TPM: t.TPM, MaxParallel: t.MaxParallel},
			budget: store.Budget{USD: t.Budget.USD, Period: t.Budget.Period}}
	}
	return out
}

// allows reports whether principal p may call model name. A nil principal
// (open mode or admin) may call everything; an empty list allows every
// model; "provider/*" allows every direct name on that provider. A team's
// list applies on top of the key's.
func allows(p *principal, name string) bool {
	if p == nil {
		return true
	}
	if !modelIn(p.models, name) {
		return false
	}
	return p.team == nil || modelIn(p.team.models, name)
}

func modelIn(list []string, name string) bool {
	if len(list) == 0 {
		return true
	}
	for _, m := range list {
		if m == name {
			return true
		}
		if p, ok := strings.CutSuffix(m, "/*"); ok && strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// checkEndpoint refuses a key scoped to other endpoints.
func checkEndpoint(p *principal, path string) error {
	if p == nil || len(p.endpoints) == 0 || slices.Contains(p.endpoints, path) {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Type: "permission_error", Code: "endpoint_not_allowed",
		Message: fmt.Sprintf("key %q may not call %s (it is scoped to %s); ask the gateway operator to add the endpoint to the key", p.name, path, strings.Join(p.endpoints, ", "))}
}

// caller authenticates a request to an API endpoint and records who it is
// on the exchange.
func (s *Server) caller(x *exchange, r *http.Request) (*principal, error) {
	_, span := s.tracer.Hop(r.Context(), "authenticate")
	p, err := s.authenticate(x, r)
	span.End()
	if err != nil {
		return nil, err
	}
	if err := checkEndpoint(p, r.URL.Path); err != nil {
		return nil, err
	}
	x.principal = p
	x.api = true
	if p != nil {
		x.key = p.name
	}
	return p, nil
}

// ctxTimeout bounds the accounting calls made after a request ended, when
// its own context may be cancelled.
func ctxTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), d)
}

// callerWords names the caller in a message.
func callerWords(p *principal) string {
	switch {
	case p == nil:
		return "this caller"
	case p.kind == "jwt":
		return fmt.Sprintf("token subject %q", p.name)
	case p.kind == "mtls":
		return fmt.Sprintf("client certificate %q", p.name)
	}
	return fmt.Sprintf("key %q", p.name)
}

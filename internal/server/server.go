// Package server is the gateway's HTTP front: the endpoints of DESIGN.md §3
// for the OpenAI dialect, the shared middleware (request id, auth, body limit,
// error rendering, request log) and the forward hop that relays upstream
// answers, streamed or not.
//
// A Server serves one config generation at a time. Apply swaps in a new one
// atomically; a request keeps the generation it arrived on until it ends, so
// a reload never disturbs requests in flight.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/cache"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/fetch"
	"github.com/switchboard-gw/switchboard/internal/limit"
	"github.com/switchboard-gw/switchboard/internal/privacy"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/respcache"
	"github.com/switchboard-gw/switchboard/internal/route"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/telemetry"
	"github.com/switchboard-gw/switchboard/internal/tracing"
	"github.com/switchboard-gw/switchboard/internal/usage"
)

// Options are the parts of a Server that come from outside the config.
type Options struct {
	Logger *slog.Logger
	// Simulator builds the in-process upstream of simulator providers.
	Simulator provider.SimulatorFactory
	// Version is the build's version, for traces and metrics.
	Version string
	// Store keeps virtual keys, teams and usage. Nil: static keys only, and
	// usage records go to the log line alone. The caller closes it after
	// Close.
	Store store.Store
	// RequestLog, when set, writes the request log line (at info, when
	// Logger has info enabled) in slog's text format without going through
	// Logger: the line every request writes is the one worth the shortcut.
	// Nil: the line goes through Logger like every other.
	RequestLog *telemetry.LineWriter
}

// Server is the gateway. Create it with New.
type Server struct {
	log      *slog.Logger
	reqLog   *telemetry.LineWriter // see Options.RequestLog
	sim      provider.SimulatorFactory
	rt       atomic.Pointer[runtime]
	mu       sync.Mutex // serialises Apply
	draining atomic.Bool
	mux      *http.ServeMux
	health   *route.Health // deployment health; outlives config generations
	budget   *route.Budget // gateway-wide retry budget
	idem     idempotencyStore
	redis    *redis.Client // nil unless redis.url is set
	stop     context.CancelFunc
	bgCtx    context.Context // ended by Close
	bg       sync.WaitGroup  // background loops, ended by Close

	store   store.Store   // nil without a store
	usage   *usage.Writer // nil without a store
	limiter limit.Limiter
	spender limit.Spender
	ids     *identityCaches

	storedHasher  *privacy.Hasher // prompt hashes keyed by the store's key (or this process's)
	tracer        *tracing.Tracer
	closeCache    func()
	inFlightBytes atomic.Int64 // request bodies held by requests in flight
	closeOnce     sync.Once
	closeErr      error
	metrics       *telemetry.Metrics
	rcache        respcache.Cache // the response cache: memory, or Redis when redis.url is set
}

// healthSyncInterval is how often a replica reads the breaker trips of the
// others from Redis: a deployment another replica found down is shed here
// within this long.
const healthSyncInterval = 500 * time.Millisecond

// runtime is everything compiled from one config generation.
type runtime struct {
	cfg       *config.Config
	table     *route.Table
	rules     *route.Rules
	fetcher   *fetch.Fetcher
	providers map[string]*provider.Provider
	keys      map[[32]byte]*principal // static keys, by SHA-256 of the secret
	teams     map[string]*teamInfo    // config teams
	jwt       *auth.Verifier          // nil: JWTs are not accepted
	prices    *usage.Prices
	alerter   *limit.Alerter  // nil: no budget webhook
	hasher    *privacy.Hasher // keyed by privacy.hash_key, nil for the stored key
	policy    *compiledPolicy
	policies  map[string]*compiledPolicy
	adminHash [32]byte
	hasAdmin  bool
	open      bool // no keys at all: every caller is let in (loopback only)
	maxBody   int64
	secrets   *strings.Replacer
	loaded    time.Time
}

// New builds a Server serving cfg.
func New(cfg *config.Config, opts Options) (*Server, error) {
	s := &Server{log: opts.Logger, reqLog: opts.RequestLog, sim: opts.Simulator,
		health: route.NewHealth(cfg.Routing.Breaker), budget: route.NewBudget(cfg.Routing.RetryBudget),
		store: opts.Store, ids: newIdentityCaches()}
	if s.log == nil {
		s.log = slog.Default()
	}
	var seed limit.Seeder
	if s.store != nil {
		seed = s.seedSpend
		w, err := usage.NewWriter(usage.WriterOptions{Sink: s.store, SpoolDir: cfg.Usage.SpoolDir,
			BatchSize: cfg.Usage.BatchSize, FlushEvery: cfg.Usage.FlushEvery.D(), RetryEvery: cfg.Usage.ReplayEvery.D(), Logger: s.log})
		if err != nil {
			return nil, err
		}
		s.usage = w
	}
	if cfg.Redis.URL != "" {
		opt, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		s.redis = redis.NewClient(opt)
		// A dead replica's claim expires after the longest an attempt may run.
		s.idem = cache.NewRedis(s.redis, cfg.Redis.Prefix, cfg.Routing.IdempotencyTTL.D(), 10*time.Minute)
		s.health.SetShared(cache.NewBreakers(s.redis, cfg.Redis.Prefix))
		s.limiter = limit.NewRedis(s.redis, cfg.Redis.Prefix)
		s.rcache = respcache.NewRedis(s.redis, cfg.Redis.Prefix)
		s.spender = limit.NewRedisSpender(s.redis, cfg.Redis.Prefix, seed, cfg.Budgets.Thresholds)
		ctx, stop := context.WithCancel(context.Background())
		s.stop, s.bgCtx = stop, ctx
		s.bg.Go(func() { s.health.Sync(ctx, healthSyncInterval) })
	} else {
		s.idem = cache.NewMemory(cfg.Routing.IdempotencyTTL.D(), 100_000)
		s.limiter = limit.NewMemory()
		mem := respcache.NewMemory(int64(cfg.Cache.MaxBytes))
		s.rcache, s.closeCache = mem, mem.Close
		s.spender = limit.NewMemorySpender(seed, cfg.Budgets.Thresholds)
	}
	tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: cfg.Tracing.Endpoint, Headers: cfg.Tracing.Headers,
		SampleRatio: cfg.Tracing.SampleRatio, Version: opts.Version})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	s.tracer = tr
	s.metrics = telemetry.NewMetrics()
	s.metrics.SetBuildInfo(opts.Version)
	s.metrics.SetCircuitSource(s.circuits)
	if err := s.loadHashKey(context.Background()); err != nil {
		return nil, fmt.Errorf("privacy hash key: %w", err)
	}
	if err := s.Apply(cfg); err != nil {
		return nil, err
	}
	if s.store != nil {
		if s.stop == nil {
			ctx, stop := context.WithCancel(context.Background())
			s.stop, s.bgCtx = stop, ctx
		}
		s.bg.Go(func() { s.purgeLoop(s.bgCtx) })
	}
	s.routes()
	return s, nil
}

// Close flushes the usage records still queued (to the store, or to the
// spool when it is down) and releases the server's connections to shared
// stores. Call it after the HTTP server has drained.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	var errs []error
	if s.usage != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, s.usage.Close(ctx))
		cancel()
	}
	if rt := s.rt.Load(); rt != nil && rt.alerter != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, rt.alerter.Close(ctx))
		cancel()
	}
	if s.stop != nil {
		s.stop()
	}
	s.bg.Wait() // background loops and response cache writes
	s.ids.close()
	if s.closeCache != nil {
		s.closeCache()
	}
	if s.tracer.Enabled() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, s.tracer.Shutdown(ctx))
		cancel()
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	return errors.Join(errs...)
}

// seedSpend reads what a budget scope spent since a time from the usage
// store, so a budget survives restarts.
func (s *Server) seedSpend(ctx context.Context, scope string, since time.Time) (float64, error) {
	kind, name, _ := cutScope(scope)
	if kind == "team" {
		return s.store.Spend(ctx, "", name, since)
	}
	return s.store.Spend(ctx, name, "", since)
}

// Apply makes cfg the config that new requests are served with. On error the
// previous config stays in place.
func (s *Server) Apply(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.rt.Load()
	var oldProviders map[string]*provider.Provider
	if old != nil {
		oldProviders = old.providers
	}
	providers, err := provider.Build(cfg.Providers, oldProviders, s.sim)
	if err != nil {
		return err
	}
	rt := &runtime{
		cfg:   cfg,
		table: route.NewTable(cfg, s.health),
		rules: route.NewRules(cfg.Rules),
		fetcher: fetch.New(fetch.Config{Hosts: cfg.Images.FetchHosts, AllowPrivate: cfg.Images.AllowPrivate,
			MaxBytes: int64(cfg.Images.MaxBytes)}),
		providers: providers,
		keys:      make(map[[32]byte]*principal, len(cfg.Keys)),
		teams:     configTeams(cfg.Teams),
		prices:    usage.NewPrices(prices(cfg.Prices)),
		maxBody:   int64(cfg.Server.MaxBodyBytes),
		loaded:    time.Now(),
	}
	for i := range cfg.Keys {
		k := &cfg.Keys[i]
		p := staticPrincipal(k)
		if t, ok := rt.teams[k.Team]; ok {
			p.team = t // resolved once here, not on every request
		}
		rt.keys[sha256.Sum256([]byte(k.Key))] = p
	}
	if rt.policy, rt.policies, err = compilePolicies(cfg); err != nil {
		return err
	}
	if cfg.Privacy.HashKey != "" {
		rt.hasher = privacy.NewHasher([]byte(cfg.Privacy.HashKey))
	}
	if j := cfg.Auth.JWT; j.JWKSURL != "" || j.Key != "" {
		v, err := auth.NewVerifier(auth.JWTConfig{JWKSURL: j.JWKSURL, Key: j.Key, Issuer: j.Issuer, Audience: j.Audience,
			TeamClaim: j.TeamClaim, UserClaim: j.UserClaim, ModelsClaim: j.ModelsClaim}, &http.Client{Timeout: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("auth.jwt: %w", err)
		}
		rt.jwt = v
	}
	if old != nil && old.alerter != nil && old.cfg.Budgets.WebhookURL == cfg.Budgets.WebhookURL {
		rt.alerter = old.alerter
	} else if cfg.Budgets.WebhookURL != "" {
		rt.alerter = limit.NewAlerter(cfg.Budgets.WebhookURL, &http.Client{Timeout: 10 * time.Second}, s.log)
	}
	if cfg.Admin.Key != "" {
		rt.hasAdmin = true
		rt.adminHash = sha256.Sum256([]byte(cfg.Admin.Key))
	}
	// Open mode needs nothing that names callers: no static keys, no admin
	// key (so no virtual keys can be made), no JWT.
	rt.open = len(rt.keys) == 0 && !rt.hasAdmin && rt.jwt == nil
	var pairs []string
	for _, sec := range cfg.Secrets() {
		if len(sec) >= 4 { // shorter "secrets" would redact ordinary words
			pairs = append(pairs, sec, "[redacted]")
		}
	}
	rt.secrets = strings.NewReplacer(pairs...)
	s.health.SetBreaker(cfg.Routing.Breaker)
	s.budget.SetRatio(cfg.Routing.RetryBudget)
	s.rt.Store(rt)
	if old != nil {
		provider.CloseUnused(old.providers, providers)
	}
	return nil
}

// Open reports whether the current config lets every caller in (no keys and
// no admin key configured).
func (s *Server) Open() bool { return s.rt.Load().open }

// SetDraining makes /readyz fail so load balancers stop sending new requests
// while in-flight ones finish.
func (s *Server) SetDraining() { s.draining.Store(true) }

// ServeHTTP serves the gateway's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("POST /v1/chat/completions", s.handle(s.chatCompletions))
	m.Handle("POST /v1/embeddings", s.handle(s.embeddings))
	m.Handle("POST /v1/messages", s.handle(s.messages))
	m.Handle("POST /v1/messages/count_tokens", s.handle(s.countTokens))
	m.Handle("GET /v1/models", s.handle(s.listModels))
	m.Handle("GET /metrics", s.metrics.Handler())
	m.Handle("GET /healthz", s.handle(s.healthz))
	m.Handle("GET /readyz", s.handle(s.readyz))
	m.Handle("GET /admin/v1/providers", s.handle(s.adminProviders))
	m.Handle("POST /admin/v1/keys", s.handle(s.adminCreateKey))
	m.Handle("GET /admin/v1/keys", s.handle(s.adminListKeys))
	m.Handle("GET /admin/v1/keys/{id}", s.handle(s.adminGetKey))
	m.Handle("DELETE /admin/v1/keys/{id}", s.handle(s.adminRevokeKey))
	m.Handle("POST /admin/v1/keys/{id}/rotate", s.handle(s.adminRotateKey))
	m.Handle("POST /admin/v1/teams", s.handle(s.adminCreateTeam))
	m.Handle("GET /admin/v1/teams", s.handle(s.adminListTeams))
	m.Handle("GET /admin/v1/usage", s.handle(s.adminUsage))
	m.Handle("GET /admin/v1/usage/daily", s.handle(s.adminDaily))
	m.Handle("GET /admin/v1/requests", s.handle(s.adminRequests))
	m.Handle("POST /admin/v1/templates", s.handle(s.adminCreateTemplate))
	m.Handle("GET /admin/v1/templates", s.handle(s.adminListTemplates))
	m.Handle("GET /admin/v1/templates/{name}", s.handle(s.adminGetTemplate))
	m.Handle("GET /admin/v1/requests/{id}/text", s.handle(s.adminRequestText))
	m.Handle("/", s.handle(s.unknownRoute))
	s.mux = m
}

// scrub removes every configured secret from s. Error messages pass through it
// before they reach a client or a log line, whatever produced them.
func (rt *runtime) scrub(s string) string { return rt.secrets.Replace(s) }

func bearer(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:])
		}
		return ""
	}
	return r.Header.Get("X-Api-Key")
}

// endpoints are the paths served, with their method, for 404/405 messages.
var endpoints = map[string]string{
	"/v1/chat/completions":      http.MethodPost,
	"/v1/embeddings":            http.MethodPost,
	"/v1/messages":              http.MethodPost,
	"/v1/messages/count_tokens": http.MethodPost,
	"/v1/models":                http.MethodGet,
	"/healthz":                  http.MethodGet,
	"/metrics":                  http.MethodGet,
	"/readyz":                   http.MethodGet,
	"/admin/v1/providers":       http.MethodGet,
	"/admin/v1/keys":            "GET, POST",
	"/admin/v1/teams":           "GET, POST",
	"/admin/v1/usage":           http.MethodGet,
	"/admin/v1/usage/daily":     http.MethodGet,
	"/admin/v1/requests":        http.MethodGet,
	"/admin/v1/templates":       "GET, POST",
}

func (s *Server) unknownRoute(x *exchange, r *http.Request) error {
	if m, ok := endpoints[r.URL.Path]; ok {
		x.Header().Set("Allow", m)
		return &Error{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: "method_not_allowed",
			Message: fmt.Sprintf("%s %s is not supported: use %s", r.Method, r.URL.Path, m)}
	}
	return notFound("unknown_url", fmt.Sprintf("no endpoint %s %s: this gateway serves POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models", r.Method, r.URL.Path))
}

func prices(in map[string]config.Price) map[string]usage.Price {
	out := make(map[string]usage.Price, len(in))
	for name, p := range in {
		out[name] = usage.Price{Input: p.Input, Output: p.Output, CachedInput: p.CachedInput}
	}
	return out
}

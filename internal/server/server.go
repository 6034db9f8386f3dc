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
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/switchboard-gw/switchboard/internal/cache"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/fetch"
	"github.com/switchboard-gw/switchboard/internal/provider"
	"github.com/switchboard-gw/switchboard/internal/route"
)

// Options are the parts of a Server that come from outside the config.
type Options struct {
	Logger *slog.Logger
	// Simulator builds the in-process upstream of simulator providers.
	Simulator provider.SimulatorFactory
}

// Server is the gateway. Create it with New.
type Server struct {
	log      *slog.Logger
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
	bg       sync.WaitGroup // background loops, ended by Close
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
	keys      map[[32]byte]*config.Key // by SHA-256 of the secret
	adminHash [32]byte
	hasAdmin  bool
	open      bool // no keys at all: every caller is let in (loopback only)
	maxBody   int64
	secrets   *strings.Replacer
	loaded    time.Time
}

// New builds a Server serving cfg.
func New(cfg *config.Config, opts Options) (*Server, error) {
	s := &Server{log: opts.Logger, sim: opts.Simulator,
		health: route.NewHealth(cfg.Routing.Breaker), budget: route.NewBudget(cfg.Routing.RetryBudget)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Redis.URL != "" {
		opt, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		s.redis = redis.NewClient(opt)
		// A dead replica's claim expires after the longest an attempt may run.
		s.idem = cache.NewRedis(s.redis, "sb:", cfg.Routing.IdempotencyTTL.D(), 10*time.Minute)
		s.health.SetShared(cache.NewBreakers(s.redis, "sb:"))
		ctx, stop := context.WithCancel(context.Background())
		s.stop = stop
		s.bg.Go(func() { s.health.Sync(ctx, healthSyncInterval) })
	} else {
		s.idem = cache.NewMemory(cfg.Routing.IdempotencyTTL.D(), 100_000)
	}
	if err := s.Apply(cfg); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Close releases the server's connections to shared stores.
func (s *Server) Close() error {
	if s.stop != nil {
		s.stop()
		s.bg.Wait()
	}
	if s.redis != nil {
		return s.redis.Close()
	}
	return nil
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
		keys:      make(map[[32]byte]*config.Key, len(cfg.Keys)),
		maxBody:   int64(cfg.Server.MaxBodyBytes),
		loaded:    time.Now(),
	}
	for i := range cfg.Keys {
		k := &cfg.Keys[i]
		rt.keys[sha256.Sum256([]byte(k.Key))] = k
	}
	if cfg.Admin.Key != "" {
		rt.hasAdmin = true
		rt.adminHash = sha256.Sum256([]byte(cfg.Admin.Key))
	}
	rt.open = len(rt.keys) == 0 && !rt.hasAdmin
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
	m.Handle("GET /healthz", s.handle(s.healthz))
	m.Handle("GET /readyz", s.handle(s.readyz))
	m.Handle("GET /admin/v1/providers", s.handle(s.adminProviders))
	m.Handle("/", s.handle(s.unknownRoute))
	s.mux = m
}

// scrub removes every configured secret from s. Error messages pass through it
// before they reach a client or a log line, whatever produced them.
func (rt *runtime) scrub(s string) string { return rt.secrets.Replace(s) }

// authenticate finds the caller's key. It returns nil with no error in open
// mode and for the admin key (which may call everything).
func (rt *runtime) authenticate(r *http.Request) (*config.Key, error) {
	if rt.open {
		return nil, nil
	}
	secret := bearer(r)
	if secret == "" {
		return nil, unauthorized("missing API key: send it as \"Authorization: Bearer KEY\" or \"x-api-key: KEY\"")
	}
	h := sha256.Sum256([]byte(secret))
	if k, ok := rt.keys[h]; ok {
		return k, nil
	}
	if rt.hasAdmin && subtle.ConstantTimeCompare(h[:], rt.adminHash[:]) == 1 {
		return nil, nil
	}
	return nil, unauthorized("invalid API key: check the key you send; keys are issued by the gateway's operator, not by the upstream provider")
}

func bearer(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:])
		}
		return ""
	}
	return r.Header.Get("X-Api-Key")
}

// allows reports whether key k may call model name. A nil key (open mode or
// admin) may call everything; an empty list allows every model; "provider/*"
// allows every direct name on that provider.
func allows(k *config.Key, name string) bool {
	if k == nil || len(k.Models) == 0 {
		return true
	}
	for _, m := range k.Models {
		if m == name {
			return true
		}
		if p, ok := strings.CutSuffix(m, "/*"); ok && strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// endpoints are the paths served, with their method, for 404/405 messages.
var endpoints = map[string]string{
	"/v1/chat/completions":      http.MethodPost,
	"/v1/embeddings":            http.MethodPost,
	"/v1/messages":              http.MethodPost,
	"/v1/messages/count_tokens": http.MethodPost,
	"/v1/models":                http.MethodGet,
	"/healthz":                  http.MethodGet,
	"/readyz":                   http.MethodGet,
	"/admin/v1/providers":       http.MethodGet,
}

func (s *Server) unknownRoute(x *exchange, r *http.Request) error {
	if m, ok := endpoints[r.URL.Path]; ok {
		x.Header().Set("Allow", m)
		return &Error{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: "method_not_allowed",
			Message: fmt.Sprintf("%s %s is not supported: use %s", r.Method, r.URL.Path, m)}
	}
	return notFound("unknown_url", fmt.Sprintf("no endpoint %s %s: this gateway serves POST /v1/chat/completions, POST /v1/embeddings and GET /v1/models", r.Method, r.URL.Path))
}

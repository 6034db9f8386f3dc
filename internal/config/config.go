// Package config loads Switchboard's YAML configuration: it finds the file,
// expands ${VAR} references, decodes strictly (unknown keys are errors, with
// their line), fills defaults, validates, and reloads the file atomically when
// it changes (see Watcher). DESIGN.md §2 is the contract for the file format;
// switchboard.example.yaml at the repository root documents every key.
package config

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Config is the whole configuration. Values returned by Parse, Load and
// Default have every default filled in and have been validated; treat them as
// read-only and swap the whole value on reload.
type Config struct {
	Server    Server           `yaml:"server"`
	Admin     Admin            `yaml:"admin"`
	Store     Store            `yaml:"store"`
	Redis     Redis            `yaml:"redis"`
	Log       Log              `yaml:"log"`
	Providers []Provider       `yaml:"providers"`
	Models    []Model          `yaml:"models"`
	Keys      []Key            `yaml:"keys"`
	Routing   Routing          `yaml:"routing"`
	Rules     []Rule           `yaml:"rules"`
	Images    Images           `yaml:"images"`
	Auth      Auth             `yaml:"auth"`
	Teams     []Team           `yaml:"teams"`
	Limits    Limits           `yaml:"limits"`
	Budgets   Budgets          `yaml:"budgets"`
	Prices    map[string]Price `yaml:"prices"`
	Usage     Usage            `yaml:"usage"`
	Privacy   Privacy          `yaml:"privacy"`
	Tracing   Tracing          `yaml:"tracing"`
	Policy    Policy           `yaml:"policy"`
	Policies  []Policy         `yaml:"policies"`
	Hooks     []Hook           `yaml:"hooks"`
	Cache     Cache            `yaml:"cache"`

	// Source is the file the config came from, "" for the built-in defaults.
	Source string `yaml:"-"`
}

// Server configures the HTTP listener.
type Server struct {
	// Listen is the address to listen on, host:port. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// MaxBodyBytes bounds a request body; larger requests get 413 before the
	// body is read whole. Default 10MiB.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
	// TLS turns on HTTPS when CertFile and KeyFile are set.
	TLS TLS `yaml:"tls"`
	// ShutdownTimeout is how long SIGTERM waits for in-flight requests
	// (streams included) before closing them. Default 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// MaxInFlightBytes bounds the request bodies held by requests in flight;
	// past it new requests get 503 "overloaded" (with retry-after) at once
	// instead of queueing without bound. Default 128MiB, or four times
	// MaxBodyBytes when that is more.
	MaxInFlightBytes Size `yaml:"max_in_flight_bytes"`
	// HTTPServer picks the client-facing HTTP server: "auto" (default: the
	// gateway's own HTTP/1.1 server on a plaintext listener, net/http when
	// TLS is on) or "net/http" (always Go's net/http server).
	HTTPServer string `yaml:"http_server"`
}

// TLS names PEM files. CertFile and KeyFile are set together or not at all;
// ClientCAFile additionally requires client certificates signed by that CA
// (mTLS) and needs CertFile and KeyFile.
type TLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// Admin configures the admin API.
type Admin struct {
	// Key is the bearer key for /admin/v1. Empty means no admin key.
	Key string `yaml:"key"`
}

// Store configures the database for keys, teams and usage.
type Store struct {
	// Driver is "sqlite" (embedded, the default) or "postgres".
	Driver string `yaml:"driver"`
	// DSN is the SQLite file path (default data/switchboard.db) or a
	// postgres:// URL (required for postgres).
	DSN string `yaml:"dsn"`
}

// Redis configures the optional shared state used across replicas.
type Redis struct {
	// URL is redis://, rediss:// or unix://; empty means in-memory state.
	URL string `yaml:"url"`
	// Prefix starts every key the gateway writes, so deployments can share
	// one Redis. Default "sb:".
	Prefix string `yaml:"prefix"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default text
}

// Provider types supported by this build.
const (
	TypeOpenAI    = "openai"
	TypeAzure     = "azure"
	TypeSimulator = "simulator"
	TypeAnthropic = "anthropic"
	TypeGemini    = "gemini"
	TypeVertex    = "vertex"
	TypeBedrock   = "bedrock"
)

// Upstream HTTP clients (Provider.HTTPClient) and client-facing HTTP
// servers (Server.HTTPServer).
const (
	HTTPClientAuto    = "auto"
	HTTPClientNetHTTP = "net/http"
)

// DefaultAzureAPIVersion is the api-version sent to Azure OpenAI when a
// provider does not set api_version.
const DefaultAzureAPIVersion = "2024-10-21"

// Provider is one upstream account or server.
type Provider struct {
	// Name identifies the provider in targets and in provider/model requests;
	// unique, no "/".
	Name string `yaml:"name"`
	// Type is openai, azure or simulator (anthropic, gemini, vertex and bedrock
	// come later).
	Type string `yaml:"type"`
	// BaseURL is required for openai and azure, an absolute http(s) URL
	// without a trailing slash (one is removed); for azure the resource
	// endpoint https://{resource}.openai.azure.com.
	BaseURL string `yaml:"base_url"`
	// APIKeys are spread over requests; none means no auth header is sent.
	APIKeys []string `yaml:"api_keys"`
	// APIVersion is Azure's api-version query parameter; azure only, default
	// DefaultAzureAPIVersion.
	APIVersion string `yaml:"api_version"`
	// Timeouts bound each upstream attempt.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxConcurrency bounds in-flight requests to this provider; 0 = unlimited.
	MaxConcurrency int `yaml:"max_concurrency"`
	// HTTPClient picks the upstream HTTP client: "auto" (default: the
	// gateway's own HTTP/1.1 client for http:// base URLs that no proxy
	// variable applies to, net/http with TLS and HTTP/2 otherwise) or
	// "net/http" (always net/http).
	HTTPClient string `yaml:"http_client"`
	// ExtraParams are request-body top-level fields this provider accepts
	// beyond the OpenAI schema (e.g. top_k for vLLM); others are rejected.
	ExtraParams []string `yaml:"extra_params"`
	// Headers are sent upstream on every request.
	Headers map[string]string `yaml:"headers"`
	// Faults is an emulator fault spec applied to every request; simulator only.
	Faults string `yaml:"faults"`
	// DefaultMaxTokens is sent to providers that require a max_tokens
	// (anthropic, bedrock) when the request gives none. Default 4096.
	DefaultMaxTokens int64 `yaml:"default_max_tokens"`
	// Region is the AWS region (bedrock) or the Google Cloud location
	// (vertex), e.g. us-east-1 or us-central1. Required for both.
	Region string `yaml:"region"`
	// Project is the Google Cloud project (vertex). Required for vertex.
	Project string `yaml:"project"`
	// CredentialsFile is a Google service account JSON key (vertex); empty
	// means Application Default Credentials.
	CredentialsFile string `yaml:"credentials_file"`
	// AWS holds static AWS credentials (bedrock) for SigV4 signing. With
	// api_keys instead, they are sent as Bedrock API keys (Bearer).
	AWS AWSCredentials `yaml:"aws"`
}

// AWSCredentials sign Bedrock requests.
type AWSCredentials struct {
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	SessionToken    string `yaml:"session_token"`
}

// Timeouts bound one upstream attempt. Zero or absent means the default.
type Timeouts struct {
	Connect   Duration `yaml:"connect"`    // TCP+TLS connect; default 5s
	FirstByte Duration `yaml:"first_byte"` // until the response headers/first byte; default 60s
	Total     Duration `yaml:"total"`      // the whole attempt, streaming included; default 10m
}

// Model is a name clients send, mapped to one or more provider targets.
type Model struct {
	Name    string   `yaml:"name"`
	Targets []Target `yaml:"targets"` // at least one
	// Fallbacks are other configured models tried, in order, when every
	// target of this one fails before the first byte.
	Fallbacks []string `yaml:"fallbacks"`
	// FallbackOn lists the failure classes that move a request on to the
	// fallbacks: rate_limit, server_error, timeout, context_window,
	// content_policy. Default [rate_limit, server_error, timeout,
	// context_window].
	FallbackOn []string `yaml:"fallback_on"`
	// Strategy picks among the targets: weighted (default, random by
	// weight), least_inflight, or latency (EWMA of time to first byte, power
	// of two choices).
	Strategy string `yaml:"strategy"`
	// Sticky makes the weighted choice a hash of the end user ("user": the
	// request's user field, else the key) or of the key ("key"), so the same
	// caller always gets the same target: a sticky canary. Default "" (random).
	Sticky string `yaml:"sticky"`
	// Retries is how many more attempts a request may make on this model's
	// targets after the first fails with a retryable class (rate_limit,
	// server_error, timeout). Default 2; 0 turns retries off.
	Retries int `yaml:"retries"`
	// Shape bounds the requests sent to this model.
	Shape Shape `yaml:"shape"`
}

// Shape bounds what requests may ask for; with both a model's and a key's
// shape the stricter value wins. Zero fields are no bound.
type Shape struct {
	// DefaultMaxTokens is sent as max_tokens when a request gives no limit.
	DefaultMaxTokens int64 `yaml:"default_max_tokens"`
	// MaxTokens caps max_tokens and max_completion_tokens.
	MaxTokens int64 `yaml:"max_tokens"`
	// MaxTemperature caps temperature.
	MaxTemperature float64 `yaml:"max_temperature"`
}

// Routing holds the gateway-wide resilience settings.
type Routing struct {
	// RetryBudget is the share of requests that may be retried, over time:
	// each request earns RetryBudget of a retry, each retry spends one. 1.0
	// means retries can at most double the upstream load. Default 0.2.
	RetryBudget float64 `yaml:"retry_budget"`
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter between retries of the same target. Defaults 100ms and 5s.
	BackoffBase Duration `yaml:"backoff_base"`
	BackoffMax  Duration `yaml:"backoff_max"`
	// MaxRetryWait is the longest retry-after hint the gateway waits for;
	// past it the target is skipped for that long instead. Default 10s.
	MaxRetryWait Duration `yaml:"max_retry_wait"`
	// Breaker is the per-deployment circuit breaker.
	Breaker Breaker `yaml:"breaker"`
	// IdempotencyTTL is how long the answer to a non-streaming request with
	// an Idempotency-Key header is kept for replay. Default 1h.
	IdempotencyTTL Duration `yaml:"idempotency_ttl"`
}

// Breaker opens a deployment's circuit when, over Window, at least
// MinRequests were made and FailureRate of them failed (server errors and
// timeouts); after Cooldown it lets Probes requests through (half-open) and
// closes again on their success.
type Breaker struct {
	FailureRate float64  `yaml:"failure_rate"` // default 0.5
	MinRequests int      `yaml:"min_requests"` // default 10
	Window      Duration `yaml:"window"`       // default 30s
	Cooldown    Duration `yaml:"cooldown"`     // default 30s
	Probes      int      `yaml:"probes"`       // default 1
}

// Target is one provider deployment serving a Model.
type Target struct {
	Provider string `yaml:"provider"` // a configured provider's name
	// Model is the upstream model name; default the Model's Name.
	Model string `yaml:"model"`
	// Weight is the target's relative share of traffic. Absent means 1; an
	// explicit 0 keeps the target configured but sends it nothing (at least
	// one target of a model must have weight > 0).
	Weight int `yaml:"weight"`
}

// Key is a static client key, for set-ups without the admin API.
type Key struct {
	Name        string   `yaml:"name"`         // unique, shown in logs and usage
	Key         string   `yaml:"key"`          // the secret clients send; unique, non-empty
	Models      []string `yaml:"models"`       // models the key may use; empty = all
	Endpoints   []string `yaml:"endpoints"`    // paths the key may call, e.g. /v1/embeddings; empty = all
	RPM         int64    `yaml:"rpm"`          // requests per minute; 0 = unlimited
	TPM         int64    `yaml:"tpm"`          // tokens per minute; 0 = unlimited
	MaxParallel int64    `yaml:"max_parallel"` // concurrent requests; 0 = unlimited
	Budget      Budget   `yaml:"budget"`       // USD spend cap per period
	Shape       Shape    `yaml:"shape"`        // bounds on this key's requests
	Team        string   `yaml:"team"`         // team the key belongs to: its limits, budget and rules
	Privacy     string   `yaml:"privacy"`      // prompt privacy for this key: off | hash | sample; default privacy.mode
	LogPrompts  bool     `yaml:"log_prompts"`  // consent to raw prompts being kept in sample mode
	Policy      string   `yaml:"policy"`       // a named policy (policies) instead of the default one
	NoCache     bool     `yaml:"no_cache"`     // never serve or store this key's requests from the response cache
}

// Policy is what requests must satisfy before they leave: PII rules, the
// domains URLs in tools and images may point at, and the hooks to run.
type Policy struct {
	Name         string   `yaml:"name"` // policies only
	PII          PII      `yaml:"pii"`
	ToolDomains  []string `yaml:"tool_domains"`  // hosts tool definitions may name; "*.example.com" for subdomains; empty = any
	ImageDomains []string `yaml:"image_domains"` // hosts image URLs may name; empty = any
	Hooks        []string `yaml:"hooks"`         // names of hooks to run, in order
}

// PII lists the redaction rules and whether answers are redacted too.
type PII struct {
	Rules     []PIIRule `yaml:"rules"`
	Responses bool      `yaml:"responses"` // also redact answers, streams included
}

// PIIRule is a built-in detector (ssn, email, phone, credit_card, iban, ip)
// or, with Pattern, a custom regular expression, and what to do on a match:
// redact (default), block or log.
type PIIRule struct {
	Name    string `yaml:"name"`
	Pattern string `yaml:"pattern"`
	Action  string `yaml:"action"`
}

// Hook is a webhook called before a request goes upstream (pre: it may add
// messages or metadata, or refuse) or after its answer (post: it may refuse
// a non-streamed answer).
type Hook struct {
	Name     string            `yaml:"name"`
	URL      string            `yaml:"url"`
	Stage    string            `yaml:"stage"`     // pre | post
	Timeout  Duration          `yaml:"timeout"`   // default 2s
	FailOpen bool              `yaml:"fail_open"` // on failure let the request through (default: refuse it)
	Headers  map[string]string `yaml:"headers"`
}

// Cache is the exact-match response cache.
type Cache struct {
	Enabled  bool     `yaml:"enabled"`
	TTL      Duration `yaml:"ttl"`       // default 1h
	MaxBytes Size     `yaml:"max_bytes"` // memory cache bound, default 256MiB; with redis.url the cache lives in Redis
}

// Privacy says what the gateway keeps of prompts and answers.
type Privacy struct {
	// Mode is off (nothing), hash (default: a keyed hash of the prompt and
	// of the answer, so repeats can be found without the text) or sample
	// (hashes, plus the raw text of SampleRate of the requests of keys with
	// log_prompts: true).
	Mode string `yaml:"mode"`
	// HashKey keys the hashes. Default: a random key made once and kept in
	// the store, shared by every replica.
	HashKey string `yaml:"hash_key"`
	// SampleRate is the fraction of a consenting key's requests whose text is
	// kept in sample mode. Default 0.01.
	SampleRate float64 `yaml:"sample_rate"`
	// Retention is how long raw text is kept before the purge deletes it.
	// Default 720h (30 days).
	Retention Duration `yaml:"retention"`
	// PurgeEvery is how often the purge runs. Default 1h.
	PurgeEvery Duration `yaml:"purge_every"`
}

// Tracing exports OpenTelemetry traces over OTLP/HTTP. Off unless Endpoint
// is set.
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://otel-collector:4318 (spans go to /v1/traces).
	Endpoint string            `yaml:"endpoint"`
	Headers  map[string]string `yaml:"headers"`
	// SampleRatio of new traces; a sampled incoming traceparent is always
	// followed. Default 1.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Budget caps spend in USD over a calendar period in UTC (daily, weekly
// starting Monday, monthly). USD 0 means no budget.
type Budget struct {
	USD    float64 `yaml:"usd"`
	Period string  `yaml:"period"` // daily | weekly | monthly; default monthly
}

// Team is a static team, for set-ups without the admin API; teams created
// through the admin API live in the store. A config team wins over a stored
// one of the same name.
type Team struct {
	Name        string   `yaml:"name"`
	Models      []string `yaml:"models"` // models the team's callers may use; empty = all
	RPM         int64    `yaml:"rpm"`
	TPM         int64    `yaml:"tpm"`
	MaxParallel int64    `yaml:"max_parallel"`
	Budget      Budget   `yaml:"budget"`
	Policy      string   `yaml:"policy"` // a named policy for the team's callers
}

// RateLimits are requests per minute, tokens per minute and concurrent
// requests; 0 means unlimited.
type RateLimits struct {
	RPM         int64 `yaml:"rpm"`
	TPM         int64 `yaml:"tpm"`
	MaxParallel int64 `yaml:"max_parallel"`
}

// Limits are rate limits beyond those of keys and teams.
type Limits struct {
	// User applies to each end user (the request's "user" field, or the
	// JWT's user claim) separately.
	User RateLimits `yaml:"user"`
	// Models applies to all callers of a model together, by the name
	// clients send.
	Models map[string]RateLimits `yaml:"models"`
}

// Budgets configures budget alerts.
type Budgets struct {
	// WebhookURL receives a JSON POST when a key's or team's spend crosses
	// one of Thresholds of its budget in a period. Empty: no alerts.
	WebhookURL string `yaml:"webhook_url"`
	// Thresholds are fractions of the budget; default [0.5, 0.8, 1.0].
	Thresholds []float64 `yaml:"thresholds"`
}

// Price is a model's price in USD per million tokens; it overrides the
// built-in table for the upstream model of that name.
type Price struct {
	Input       float64 `yaml:"input"`
	Output      float64 `yaml:"output"`
	CachedInput float64 `yaml:"cached_input"` // default: input
}

// Usage configures the usage records writer.
type Usage struct {
	// SpoolDir holds usage records while the store is down, replayed when it
	// is back. Default: "spool" next to the SQLite file, else data/spool.
	SpoolDir string `yaml:"spool_dir"`
	// BatchSize and FlushEvery shape the batched writes. Defaults 500, 50ms.
	BatchSize  int      `yaml:"batch_size"`
	FlushEvery Duration `yaml:"flush_every"`
	// ReplayEvery is how often spooled records are retried while the store
	// is down. Default 5s.
	ReplayEvery Duration `yaml:"replay_every"`
}

// Auth configures the identities other than static and virtual keys.
type Auth struct {
	// KeyCacheTTL is how long a replica trusts a virtual key it looked up in
	// the store; a key revoked on another replica is refused here within it.
	// Default 5s.
	KeyCacheTTL Duration `yaml:"key_cache_ttl"`
	JWT         JWT      `yaml:"jwt"`
	MTLS        MTLS     `yaml:"mtls"`
}

// JWT accepts bearer JSON Web Tokens verified against a JWKS URL or a
// static key (PEM public key, or an HMAC secret). Set one of the two to turn
// it on. exp is required; aud and iss are checked when set.
type JWT struct {
	JWKSURL     string `yaml:"jwks_url"`
	Key         string `yaml:"key"`
	Issuer      string `yaml:"issuer"`
	Audience    string `yaml:"audience"`
	TeamClaim   string `yaml:"team_claim"`   // default team
	UserClaim   string `yaml:"user_claim"`   // default sub
	ModelsClaim string `yaml:"models_claim"` // optional: models the token may use
}

// MTLS maps verified client certificates (server.tls.client_ca_file) to
// principals: the certificate field that names the caller, and the team each
// principal belongs to.
type MTLS struct {
	Principal string            `yaml:"principal"` // cn (default) | dns | email | uri
	Teams     map[string]string `yaml:"teams"`     // principal -> team
}

// Images controls the gateway fetching images that requests give by URL,
// for providers that only take inline images (gemini, vertex, bedrock).
type Images struct {
	// FetchHosts are the hosts images may be fetched from: exact names or
	// "*.example.com". Empty (the default): image URLs are not fetched, and
	// such requests to those providers are refused with a 400.
	FetchHosts []string `yaml:"fetch_hosts"`
	// AllowPrivate lets allowed hosts resolve to private, loopback or
	// link-local addresses. Default false: never.
	AllowPrivate bool `yaml:"allow_private"`
	// MaxBytes caps one image. Default 5MiB.
	MaxBytes Size `yaml:"max_bytes"`
}

// Rule sends matching requests to another model. Rules are tried in order
// and the first that matches wins; every condition given must hold.
type Rule struct {
	Name  string    `yaml:"name"`
	Match RuleMatch `yaml:"match"`
	// Model is the configured model matching requests are sent to.
	Model string `yaml:"model"`
}

// RuleMatch is a rule's conditions; an empty field matches anything.
type RuleMatch struct {
	Models   []string          `yaml:"models"`   // the model the client asked for
	Tags     []string          `yaml:"tags"`     // all present in x-switchboard-tags
	Keys     []string          `yaml:"keys"`     // the caller's key name
	Teams    []string          `yaml:"teams"`    // the caller's key's team
	Metadata map[string]string `yaml:"metadata"` // string values of the request's metadata object
}

// Defaults that Parse and Default fill in for absent or zero values.
const (
	DefaultListen           = "127.0.0.1:8080"
	DefaultMaxBodyBytes     = 10 << 20 // 10MiB
	DefaultShutdownTimeout  = 30 * time.Second
	DefaultMaxInFlightBytes = 128 << 20 // 128MiB
	DefaultStoreDriver      = "sqlite"
	DefaultSQLiteDSN        = "data/switchboard.db"
	DefaultConnectTimeout   = 5 * time.Second
	DefaultFirstByte        = 60 * time.Second
	DefaultTotalTimeout     = 10 * time.Minute
	DefaultRetries          = 2
	DefaultRetryBudget      = 0.2
	DefaultBackoffBase      = 100 * time.Millisecond
	DefaultBackoffMax       = 5 * time.Second
	DefaultMaxRetryWait     = 10 * time.Second
	DefaultBreakerRate      = 0.5
	DefaultBreakerMin       = 10
	DefaultBreakerWindow    = 30 * time.Second
	DefaultBreakerCooldown  = 30 * time.Second
	DefaultIdempotencyTTL   = time.Hour
	DefaultAnthropicURL     = "https://api.anthropic.com"
	DefaultGeminiURL        = "https://generativelanguage.googleapis.com"
	DefaultMaxTokens        = 4096
)

// PresetURLs are the OpenAI-compatible provider types that need only a key:
// each one's default base_url. Their quirks (parameters they reject or
// accept beyond OpenAI's) live with the provider adapter.
var PresetURLs = map[string]string{
	"groq":       "https://api.groq.com/openai/v1",
	"mistral":    "https://api.mistral.ai/v1",
	"deepseek":   "https://api.deepseek.com/v1",
	"together":   "https://api.together.xyz/v1",
	"fireworks":  "https://api.fireworks.ai/inference/v1",
	"openrouter": "https://openrouter.ai/api/v1",
	"xai":        "https://api.x.ai/v1",
	"perplexity": "https://api.perplexity.ai",
	"cerebras":   "https://api.cerebras.ai/v1",
	"ollama":     "http://127.0.0.1:11434/v1",
	"vllm":       "http://127.0.0.1:8000/v1",
	"lmstudio":   "http://127.0.0.1:1234/v1",
}

// DefaultFallbackOn is the failure classes that move a request to a model's
// fallbacks when fallback_on is absent.
var DefaultFallbackOn = []string{"rate_limit", "server_error", "timeout", "context_window"}

// FailureClasses are the values fallback_on accepts.
var FailureClasses = []string{"rate_limit", "server_error", "timeout", "context_window", "content_policy"}

// Default returns the built-in configuration used when no file is found:
// listen on 127.0.0.1:8080, 10MiB bodies, SQLite at data/switchboard.db, and
// one model "demo" served by the built-in simulator provider.
func Default() *Config {
	c := &Config{}
	fill(c, nil)
	return c
}

// builtinProviders and builtinModels are used when a config names neither
// providers nor models, so a file with only server.listen still serves demo.
func builtinProviders() []Provider {
	return []Provider{{Name: "simulator", Type: TypeSimulator}}
}

func builtinModels() []Model {
	return []Model{{Name: "demo", Targets: []Target{{Provider: "simulator", Model: "demo", Weight: 1}}}}
}

// Load reads the file at path and parses it with the process environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse decodes, expands, defaults and validates a YAML config. source names
// the file in messages and becomes Config.Source. lookupEnv resolves ${VAR}
// (os.LookupEnv in production; nil means no variables are set).
//
// Any error is an *Error listing every problem with its line, e.g.
//
//	switchboard.yaml:14:5: unknown key "base_ur" in providers[0] (did you mean "base_url"?)
func Parse(data []byte, source string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	c := &Config{}
	d := newDecoder(lookupEnv)
	d.parseFile(data, reflect.ValueOf(c).Elem())
	if len(d.problems) > 0 {
		return nil, &Error{Source: source, Problems: d.problems}
	}
	fill(c, d.has)
	c.Source = source
	if ps := validate(c, d.fields); len(ps) > 0 {
		return nil, &Error{Source: source, Problems: ps}
	}
	return c, nil
}

// fill sets defaults. has reports whether a path was written in the file;
// nil means nothing was.
func fill(c *Config, has func(string) bool) {
	if has == nil {
		has = func(string) bool { return false }
	}
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	if c.Server.MaxBodyBytes == 0 {
		c.Server.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Server.ShutdownTimeout == 0 {
		c.Server.ShutdownTimeout = Duration(DefaultShutdownTimeout)
	}
	if c.Server.MaxInFlightBytes == 0 {
		c.Server.MaxInFlightBytes = max(DefaultMaxInFlightBytes, 4*c.Server.MaxBodyBytes)
	}
	c.Store.Driver = strings.ToLower(c.Store.Driver)
	if c.Store.Driver == "" {
		c.Store.Driver = DefaultStoreDriver
	}
	if c.Store.DSN == "" && c.Store.Driver == "sqlite" {
		c.Store.DSN = DefaultSQLiteDSN
	}
	c.Log.Level = strings.ToLower(c.Log.Level)
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	c.Log.Format = strings.ToLower(c.Log.Format)
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if len(c.Providers) == 0 && len(c.Models) == 0 {
		c.Providers, c.Models = builtinProviders(), builtinModels()
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		p.Type = strings.ToLower(p.Type)
		p.BaseURL = strings.TrimRight(p.BaseURL, "/")
		if p.Type == TypeAzure && p.APIVersion == "" {
			p.APIVersion = DefaultAzureAPIVersion
		}
		if u, ok := PresetURLs[p.Type]; ok && p.BaseURL == "" {
			p.BaseURL = u
		}
		switch p.Type {
		case TypeAnthropic:
			if p.BaseURL == "" {
				p.BaseURL = DefaultAnthropicURL
			}
		case TypeGemini:
			if p.BaseURL == "" {
				p.BaseURL = DefaultGeminiURL
			}
		case TypeVertex:
			if p.BaseURL == "" && p.Region != "" {
				p.BaseURL = "https://" + p.Region + "-aiplatform.googleapis.com"
			}
		case TypeBedrock:
			if p.BaseURL == "" && p.Region != "" {
				p.BaseURL = "https://bedrock-runtime." + p.Region + ".amazonaws.com"
			}
		}
		if (p.Type == TypeAnthropic || p.Type == TypeBedrock) && p.DefaultMaxTokens == 0 {
			p.DefaultMaxTokens = DefaultMaxTokens
		}
		t := &p.Timeouts
		if t.Connect == 0 {
			t.Connect = Duration(DefaultConnectTimeout)
		}
		if t.FirstByte == 0 {
			t.FirstByte = Duration(DefaultFirstByte)
		}
		if t.Total == 0 {
			t.Total = Duration(DefaultTotalTimeout)
		}
	}
	fillRouting(&c.Routing, has)
	fillTenancy(c)
	for i := range c.Models {
		m := &c.Models[i]
		for j := range m.Targets {
			t := &m.Targets[j]
			if t.Model == "" {
				t.Model = m.Name
			}
			if t.Weight == 0 && !has(fmt.Sprintf("models[%d].targets[%d].weight", i, j)) {
				t.Weight = 1
			}
		}
		if m.Retries == 0 && !has(fmt.Sprintf("models[%d].retries", i)) {
			m.Retries = DefaultRetries
		}
		if m.FallbackOn == nil {
			m.FallbackOn = DefaultFallbackOn
		}
		m.Strategy = strings.ToLower(m.Strategy)
		if m.Strategy == "" {
			m.Strategy = "weighted"
		}
		m.Sticky = strings.ToLower(m.Sticky)
	}
}

// Resolve picks the config file: flagPath if non-empty, else
// $SWITCHBOARD_CONFIG if set and non-empty, else ./switchboard.yaml if it
// exists, else "" meaning the built-in defaults.
func Resolve(flagPath string) string {
	return resolve(flagPath, os.Getenv, os.Stat)
}

// DefaultFile is the file Resolve looks for in the working directory.
const DefaultFile = "switchboard.yaml"

func resolve(flagPath string, getenv func(string) string, stat func(string) (fs.FileInfo, error)) string {
	if flagPath != "" {
		return flagPath
	}
	if p := getenv("SWITCHBOARD_CONFIG"); p != "" {
		return p
	}
	if fi, err := stat(DefaultFile); err == nil && !fi.IsDir() {
		return DefaultFile
	}
	return ""
}

// Secrets returns every secret value in the config, each once, for scrubbing
// errors and logs: provider api_keys, the admin key, static key values, the
// password in store.dsn and redis.url, and the values of provider headers
// whose name suggests a credential (Authorization, *key*, *token*, *secret*).
// Empty values are left out.
func (c *Config) Secrets() []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	add(c.Admin.Key)
	for _, p := range c.Providers {
		for _, k := range p.APIKeys {
			add(k)
		}
		for name, v := range p.Headers {
			if secretHeader(name) {
				add(v)
			}
		}
		add(p.AWS.SecretAccessKey)
		add(p.AWS.SessionToken)
	}
	for _, k := range c.Keys {
		add(k.Key)
	}
	add(urlPassword(c.Store.DSN))
	add(urlPassword(c.Redis.URL))
	add(c.Auth.JWT.Key) // an HMAC secret (a PEM public key is harmless, but long enough not to matter)
	add(c.Privacy.HashKey)
	for name, v := range c.Tracing.Headers {
		if secretHeader(name) {
			add(v)
		}
	}
	return out
}

func secretHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "authorization") || strings.Contains(n, "key") ||
		strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "cookie")
}

// urlPassword returns the password of a URL DSN, or of a key=value DSN's
// password= field, or "".
func urlPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		p, _ := u.User.Password()
		return p
	}
	for f := range strings.FieldsSeq(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

func fillRouting(r *Routing, has func(string) bool) {
	if r.RetryBudget == 0 && !has("routing.retry_budget") {
		r.RetryBudget = DefaultRetryBudget
	}
	setDuration(&r.BackoffBase, DefaultBackoffBase)
	setDuration(&r.BackoffMax, DefaultBackoffMax)
	setDuration(&r.MaxRetryWait, DefaultMaxRetryWait)
	setDuration(&r.IdempotencyTTL, DefaultIdempotencyTTL)
	b := &r.Breaker
	if b.FailureRate == 0 {
		b.FailureRate = DefaultBreakerRate
	}
	if b.MinRequests == 0 {
		b.MinRequests = DefaultBreakerMin
	}
	setDuration(&b.Window, DefaultBreakerWindow)
	setDuration(&b.Cooldown, DefaultBreakerCooldown)
	if b.Probes == 0 {
		b.Probes = 1
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

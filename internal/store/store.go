// Package store keeps what must outlive a process: teams, virtual keys and
// usage records. One schema serves the embedded SQLite file (the default)
// and PostgreSQL (scaled out); migrations run at Open and are safe when
// several replicas start at once.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// ErrNotFound is returned when a key or team does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a unique name is already taken.
var ErrConflict = errors.New("store: already exists")

// Limits are the rate limits of a key or team; 0 means unlimited.
type Limits struct {
	RPM         int64 `json:"rpm,omitzero"`
	TPM         int64 `json:"tpm,omitzero"`
	MaxParallel int64 `json:"max_parallel,omitzero"`
}

// Budget is a spend cap in USD that resets every Period
// ("daily", "weekly" or "monthly"; calendar periods in UTC). USD 0 means none.
type Budget struct {
	USD    float64 `json:"usd"`
	Period string  `json:"period"`
}

// Team groups keys under shared limits and a shared budget.
type Team struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"` // unique
	Models    []string          `json:"models,omitempty"`
	Limits                      // rpm, tpm, max_parallel
	Budget    Budget            `json:"budget,omitzero"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Policy    string            `json:"policy,omitempty"` // a policy of the config (policies:) for the team's keys; "" for none
	CreatedAt time.Time         `json:"created_at"`
}

// Key is a virtual key. The secret itself is never stored: Hash is the hex
// SHA-256 of the secret, Prefix its first characters for people to recognise
// it by. After a rotation the previous hash stays valid until OldUntil.
type Key struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Team      string            `json:"team,omitempty"` // team name, "" for none
	Prefix    string            `json:"prefix"`
	Hash      string            `json:"-"`
	OldHash   string            `json:"-"`
	OldUntil  time.Time         `json:"old_valid_until,omitzero"`
	Models    []string          `json:"models,omitempty"`    // empty: all
	Endpoints []string          `json:"endpoints,omitempty"` // paths like /v1/chat/completions; empty: all
	Limits                      // rpm, tpm, max_parallel
	Budget    Budget            `json:"budget,omitzero"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	// Privacy overrides the gateway's prompt privacy mode for this key:
	// "" (the global mode), "off", "hash" or "sample". LogPrompts is the
	// key owner's consent to raw prompts being kept in sample mode.
	Privacy    string    `json:"privacy,omitempty"`
	LogPrompts bool      `json:"log_prompts,omitzero"`
	Policy     string    `json:"policy,omitempty"`    // a policy of the config (policies:); "" for the team's, or none
	NoCache    bool      `json:"no_cache,omitzero"`   // opted out of the response cache
	ExpiresAt  time.Time `json:"expires_at,omitzero"` // zero: never
	RevokedAt  time.Time `json:"revoked_at,omitzero"` // zero: live
	CreatedAt  time.Time `json:"created_at"`
}

// UsageRecord is what one request cost. RequestID is unique: inserting a
// record twice (a replay after a partial failure) keeps one.
type UsageRecord struct {
	RequestID    string        `json:"request_id"`
	Time         time.Time     `json:"time"` // when the request arrived, UTC
	KeyID        string        `json:"key_id,omitempty"`
	KeyName      string        `json:"key,omitempty"`
	Team         string        `json:"team,omitempty"`
	User         string        `json:"user,omitempty"` // the request's end user
	Endpoint     string        `json:"endpoint"`
	ModelAsked   string        `json:"model"`
	Provider     string        `json:"provider,omitempty"`
	ModelUsed    string        `json:"upstream_model,omitempty"`
	InputTokens  int64         `json:"input_tokens"`
	OutputTokens int64         `json:"output_tokens"`
	CachedTokens int64         `json:"cached_tokens"`
	CostUSD      float64       `json:"cost_usd"`
	Latency      time.Duration `json:"latency_ns"`
	TTFT         time.Duration `json:"ttft_ns"`
	Status       int           `json:"status"`
	ErrorClass   string        `json:"error_class,omitempty"`
	Attempts     int           `json:"attempts"`
	CacheHit     bool          `json:"cache_hit"`
	Stream       bool          `json:"stream"`
	// PromptHash and ResponseHash are keyed hashes (hex HMAC-SHA256) of the
	// prompt and the answer's text, so repeats can be found without the
	// text; "" when prompt privacy is off.
	PromptHash   string `json:"prompt_hash,omitempty"`
	ResponseHash string `json:"response_hash,omitempty"`
	// PromptText and ResponseText are the raw text of a sampled request of a
	// consenting key, kept apart (request_texts) and purged after the
	// retention period; "" otherwise. They travel with the record so that
	// the spool keeps them while the store is down.
	PromptText   string `json:"prompt_text,omitempty"`
	ResponseText string `json:"response_text,omitempty"`
	// Template is "name@version" of the prompt template the request ran,
	// "" when it used none.
	Template string `json:"template,omitempty"`
	// SavedUSD is, on a response cache hit, what the call it replaced
	// cost (CostUSD is then 0).
	SavedUSD float64 `json:"saved_usd,omitempty"`
}

// Template is one version of a named prompt template: chat messages whose
// text holds {{variable}} placeholders (see package templates).
type Template struct {
	Name     string         `json:"name"`     // [a-z0-9_.-]{1,64}
	Version  int            `json:"version"`  // 1, 2, ... assigned by the store
	Messages jsontext.Value `json:"messages"` // a JSON array of chat messages
	// Variables are the placeholder names the messages use, sorted; the
	// caller derives them (templates.Parse), the store keeps them.
	Variables []string  `json:"variables"`
	CreatedAt time.Time `json:"created_at"`
}

// RequestQuery selects records of the request log, newest first. Zero
// fields do not filter. Status 0 means any; StatusMin/StatusMax select a
// range (e.g. 400..599 for failures). Limit defaults to 100, at most 1000.
// Before pages: records strictly older than the record with this request id.
type RequestQuery struct {
	KeyID     string
	KeyName   string
	Team      string
	Model     string // the model asked
	Status    int
	StatusMin int
	StatusMax int
	From      time.Time
	To        time.Time
	Limit     int
	Before    string
}

// RequestText is the raw text kept for a sampled request.
type RequestText struct {
	RequestID string    `json:"request_id"`
	Time      time.Time `json:"time"`
	Prompt    string    `json:"prompt"`
	Response  string    `json:"response"`
}

// DailyRow is one day of one team's or model's usage.
type DailyRow struct {
	Day          string  `json:"day"` // YYYY-MM-DD, UTC
	Group        string  `json:"group"`
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// UsageQuery selects usage records to aggregate. GroupBy is one of "team",
// "key", "model", "provider", "user", "day" ("" aggregates everything into
// one row); From is inclusive, To exclusive, zero means unbounded.
type UsageQuery struct {
	GroupBy string
	From    time.Time
	To      time.Time
	Team    string // optional filter
	KeyID   string // optional filter
}

// UsageRow is one group of an aggregation.
type UsageRow struct {
	Group        string  `json:"group"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"` // status >= 400
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CachedTokens int64   `json:"cached_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	SavedUSD     float64 `json:"saved_usd"` // what response cache hits saved
}

// Store is the persistence the gateway needs. Every method is safe for
// concurrent use.
type Store interface {
	CreateTeam(ctx context.Context, t Team) (Team, error) // fills ID and CreatedAt; ErrConflict on a taken name
	Team(ctx context.Context, name string) (Team, error)  // ErrNotFound
	Teams(ctx context.Context) ([]Team, error)

	CreateKey(ctx context.Context, k Key) (Key, error) // fills ID (when empty) and CreatedAt; k.Hash must be set
	// KeyByHash finds the key whose Hash is hash, or whose OldHash is hash
	// and OldUntil is after now. Revoked and expired keys are returned too:
	// the caller decides and says why it refuses them.
	KeyByHash(ctx context.Context, hash string, now time.Time) (Key, error)
	KeyByID(ctx context.Context, id string) (Key, error)
	Keys(ctx context.Context) ([]Key, error)
	RevokeKey(ctx context.Context, id string, at time.Time) error
	// RotateKey gives key id a new hash and prefix; the current hash becomes
	// OldHash, valid until oldUntil.
	RotateKey(ctx context.Context, id, newHash, newPrefix string, oldUntil time.Time) (Key, error)

	// InsertUsage writes records in one transaction; records whose
	// RequestID is already stored are skipped.
	InsertUsage(ctx context.Context, recs []UsageRecord) error
	AggregateUsage(ctx context.Context, q UsageQuery) ([]UsageRow, error)
	// Spend is the cost of the usage of a key (by ID) or a team (by name)
	// since a time: it seeds budget counters after a restart.
	Spend(ctx context.Context, keyID, team string, since time.Time) (float64, error)

	// ListRequests reads the request log (the usage records, without their
	// raw text) newest first.
	ListRequests(ctx context.Context, q RequestQuery) ([]UsageRecord, error)
	// RequestText is the raw text kept for a request; ErrNotFound when none
	// (not sampled, or purged).
	RequestText(ctx context.Context, requestID string) (RequestText, error)
	// PurgeTexts deletes the raw text of requests older than before, and
	// nothing else; it returns how many were deleted.
	PurgeTexts(ctx context.Context, before time.Time) (int64, error)
	// DailyUsage is requests, tokens and cost per UTC day and per team or
	// model (by = "team" | "model"), From inclusive, To exclusive.
	DailyUsage(ctx context.Context, by string, from, to time.Time) ([]DailyRow, error)
	// Setting returns the value stored under name, storing create() first
	// when there is none; replicas racing to create agree on one value.
	Setting(ctx context.Context, name string, create func() (string, error)) (string, error)

	Ping(ctx context.Context) error
	Close() error

	// CreateTemplate stores t as a new version of the template t.Name
	// ([a-z0-9_.-]{1,64}; t.Messages a JSON array): version is the previous
	// highest plus one, or 1. It fills Version and CreatedAt; concurrent
	// creations of one name never get the same version.
	CreateTemplate(ctx context.Context, t Template) (Template, error)
	// Template returns one version of a template, the latest when version
	// is 0; ErrNotFound.
	Template(ctx context.Context, name string, version int) (Template, error)
	// Templates lists the latest version of every template, by name.
	Templates(ctx context.Context) ([]Template, error)
}

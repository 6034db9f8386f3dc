package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/auth"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/privacy"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// The admin API of DESIGN.md §3 for virtual keys, teams and usage. Every
// handler needs the admin key, and a store.

// DefaultRotateGrace is how long the old secret of a rotated key keeps
// working when the request does not say.
const DefaultRotateGrace = time.Hour

type budgetJSON struct {
	USD    float64 `json:"usd"`
	Period string  `json:"period"`
}

type keyRequest struct {
	Name        string            `json:"name"`
	Team        string            `json:"team"`
	Models      []string          `json:"models"`
	Endpoints   []string          `json:"endpoints"`
	RPM         int64             `json:"rpm"`
	TPM         int64             `json:"tpm"`
	MaxParallel int64             `json:"max_parallel"`
	Budget      *budgetJSON       `json:"budget"`
	ExpiresAt   string            `json:"expires_at"` // RFC 3339 time, or a duration from now such as "720h"
	Metadata    map[string]string `json:"metadata"`
	Privacy     string            `json:"privacy"`     // "", off, hash, sample
	LogPrompts  bool              `json:"log_prompts"` // consent to sampling of raw prompts
	Policy      string            `json:"policy"`      // a policy of the config (policies:), "" for the team's or the default
	NoCache     bool              `json:"no_cache"`    // never use the response cache
}

type teamRequest struct {
	Name        string            `json:"name"`
	Models      []string          `json:"models"`
	RPM         int64             `json:"rpm"`
	TPM         int64             `json:"tpm"`
	MaxParallel int64             `json:"max_parallel"`
	Budget      *budgetJSON       `json:"budget"`
	Metadata    map[string]string `json:"metadata"`
	Policy      string            `json:"policy"` // a policy of the config (policies:) for the team's keys, "" for the default
}

type rotateRequest struct {
	GracePeriod string `json:"grace_period"` // Go duration; default 1h, "0s" ends the old secret now
}

// keyCreated is the only answer that carries the secret.
type keyCreated struct {
	store.Key
	Secret string `json:"key"`
}

func (s *Server) adminStore(x *exchange, r *http.Request) error {
	if err := x.rt.authorizeAdmin(r); err != nil {
		return err
	}
	if s.store == nil {
		return &Error{Status: http.StatusNotImplemented, Type: "invalid_request_error", Code: "no_store",
			Message: "this gateway runs without a store, so it has no virtual keys, teams or usage; configure store.driver and store.dsn"}
	}
	return nil
}

// decodeAdmin reads a small JSON body strictly: unknown fields are errors
// that name the field.
func decodeAdmin(r *http.Request, v any, optional bool) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return badRequest("", "could not read the request body: "+err.Error())
	}
	if optional && len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v, json.RejectUnknownMembers(true)); err != nil {
		var se *json.SemanticError
		if errors.As(err, &se) && se.JSONPointer != "" {
			return badRequest(strings.TrimPrefix(string(se.JSONPointer), "/"), "invalid request body at "+string(se.JSONPointer)+": "+err.Error())
		}
		return badRequest("", "the request body is not valid JSON for this endpoint: "+err.Error())
	}
	return nil
}

func checkLimits(rpm, tpm, par int64) error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"rpm", rpm}, {"tpm", tpm}, {"max_parallel", par}} {
		if f.v < 0 {
			return badRequest(f.name, f.name+" must not be negative (0 means unlimited)")
		}
	}
	return nil
}

func checkBudget(b *budgetJSON) (store.Budget, error) {
	if b == nil {
		return store.Budget{}, nil
	}
	if b.Period == "" {
		b.Period = config.DefaultBudgetPeriod
	}
	if !slices.Contains(config.BudgetPeriods, b.Period) {
		return store.Budget{}, badRequest("budget.period", fmt.Sprintf("budget period %q is not one of daily, weekly, monthly", b.Period))
	}
	if b.USD < 0 {
		return store.Budget{}, badRequest("budget.usd", "budget.usd must not be negative (0 means no budget)")
	}
	return store.Budget{USD: b.USD, Period: b.Period}, nil
}

// checkPolicy refuses a policy name that the running config does not
// define; "" (none) is fine.
func checkPolicy(rt *runtime, name string) error {
	if name == "" {
		return nil
	}
	if _, ok := rt.policies[name]; ok {
		return nil
	}
	names := make([]string, 0, len(rt.policies))
	for n := range rt.policies {
		names = append(names, n)
	}
	if len(names) == 0 {
		return badRequest("policy", fmt.Sprintf("policy %q does not exist: the config defines no named policies (add it under policies:, or leave policy out)", name))
	}
	slices.Sort(names)
	return badRequest("policy", fmt.Sprintf("policy %q does not exist: use one of %s (the policies of the config), or leave policy out", name, strings.Join(names, ", ")))
}

func (s *Server) adminCreateKey(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	var req keyRequest
	if err := decodeAdmin(r, &req, false); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" {
		return badRequest("name", "name is required: it names the key in listings, logs and usage")
	}
	if err := checkLimits(req.RPM, req.TPM, req.MaxParallel); err != nil {
		return err
	}
	budget, err := checkBudget(req.Budget)
	if err != nil {
		return err
	}
	for i, e := range req.Endpoints {
		if !slices.Contains(config.Endpoints, e) {
			return badRequest(fmt.Sprintf("endpoints[%d]", i), fmt.Sprintf("%q is not an endpoint a key can be scoped to: use one of %s", e, strings.Join(config.Endpoints, ", ")))
		}
	}
	if req.Privacy != "" && !slices.Contains(privacy.Modes, req.Privacy) {
		return badRequest("privacy", fmt.Sprintf("privacy %q is not one of off, hash, sample (or leave it out for the gateway's mode)", req.Privacy))
	}
	if err := checkPolicy(x.rt, req.Policy); err != nil {
		return err
	}
	var expires time.Time
	if req.ExpiresAt != "" {
		if d, err := time.ParseDuration(req.ExpiresAt); err == nil && d > 0 {
			expires = time.Now().Add(d).UTC()
		} else if t, err := time.Parse(time.RFC3339, req.ExpiresAt); err == nil {
			expires = t.UTC()
		} else {
			return badRequest("expires_at", fmt.Sprintf("expires_at %q is neither an RFC 3339 time (2026-12-31T00:00:00Z) nor a duration from now (720h)", req.ExpiresAt))
		}
		if !expires.After(time.Now()) {
			return badRequest("expires_at", "expires_at is in the past")
		}
	}
	if req.Team != "" {
		if _, ok := x.rt.teams[req.Team]; !ok {
			if _, err := s.store.Team(r.Context(), req.Team); errors.Is(err, store.ErrNotFound) {
				return badRequest("team", fmt.Sprintf("team %q does not exist: create it first with POST /admin/v1/teams or add it to teams in the config", req.Team))
			} else if err != nil {
				return err
			}
		}
	}
	secret, prefix, hash, err := auth.NewSecret()
	if err != nil {
		return err
	}
	k, err := s.store.CreateKey(r.Context(), store.Key{Name: req.Name, Team: req.Team, Prefix: prefix, Hash: hash,
		Models: req.Models, Endpoints: req.Endpoints, Limits: store.Limits{RPM: req.RPM, TPM: req.TPM, MaxParallel: req.MaxParallel},
		Budget: budget, Metadata: req.Metadata, ExpiresAt: expires, Privacy: req.Privacy, LogPrompts: req.LogPrompts,
		Policy: req.Policy, NoCache: req.NoCache})
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: http.StatusConflict, Type: "invalid_request_error", Code: "key_exists", Param: "name",
			Message: fmt.Sprintf("a live key named %q already exists: pick another name, or revoke or rotate that key", req.Name)}
	}
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return writeAdmin(x, http.StatusCreated, keyCreated{Key: k, Secret: secret})
}

func (s *Server) adminListKeys(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	keys, err := s.store.Keys(r.Context())
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if keys == nil {
		keys = []store.Key{}
	}
	return writeAdmin(x, http.StatusOK, map[string]any{"object": "list", "data": keys})
}

func (s *Server) adminGetKey(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	k, err := s.keyByID(r)
	if err != nil {
		return err
	}
	return writeAdmin(x, http.StatusOK, k)
}

func (s *Server) keyByID(r *http.Request) (store.Key, error) {
	id := r.PathValue("id")
	k, err := s.store.KeyByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return k, notFound("key_not_found", fmt.Sprintf("no key with id %q; GET /admin/v1/keys lists them", id))
	}
	return k, err
}

func (s *Server) adminRevokeKey(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	k, err := s.keyByID(r)
	if err != nil {
		return err
	}
	if k.RevokedAt.IsZero() {
		if err := s.store.RevokeKey(r.Context(), k.ID, time.Now().UTC()); err != nil {
			return fmt.Errorf("revoke key: %w", err)
		}
	}
	s.forgetKey(k)
	if k, err = s.keyByID(r); err != nil {
		return err
	}
	return writeAdmin(x, http.StatusOK, k)
}

func (s *Server) adminRotateKey(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	var req rotateRequest
	if err := decodeAdmin(r, &req, true); err != nil {
		return err
	}
	grace := DefaultRotateGrace
	if req.GracePeriod != "" {
		d, err := time.ParseDuration(req.GracePeriod)
		if err != nil || d < 0 {
			return badRequest("grace_period", fmt.Sprintf("grace_period %q is not a duration such as \"1h\" or \"0s\"", req.GracePeriod))
		}
		grace = d
	}
	k, err := s.keyByID(r)
	if err != nil {
		return err
	}
	if !k.RevokedAt.IsZero() {
		return &Error{Status: http.StatusConflict, Type: "invalid_request_error", Code: "key_revoked",
			Message: fmt.Sprintf("key %q is revoked and cannot be rotated; create a new key", k.Name)}
	}
	secret, prefix, hash, err := auth.NewSecret()
	if err != nil {
		return err
	}
	nk, err := s.store.RotateKey(r.Context(), k.ID, hash, prefix, time.Now().Add(grace).UTC())
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	s.forgetKey(k)
	return writeAdmin(x, http.StatusOK, keyCreated{Key: nk, Secret: secret})
}

// forgetKey drops a key's cached lookups on this replica; other replicas
// see the change within auth.key_cache_ttl.
func (s *Server) forgetKey(k store.Key) {
	s.ids.keys.Invalidate(k.Hash)
	if k.OldHash != "" {
		s.ids.keys.Invalidate(k.OldHash)
	}
}

func (s *Server) adminCreateTeam(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	var req teamRequest
	if err := decodeAdmin(r, &req, false); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" {
		return badRequest("name", "name is required")
	}
	if err := checkLimits(req.RPM, req.TPM, req.MaxParallel); err != nil {
		return err
	}
	budget, err := checkBudget(req.Budget)
	if err != nil {
		return err
	}
	if err := checkPolicy(x.rt, req.Policy); err != nil {
		return err
	}
	t, err := s.store.CreateTeam(r.Context(), store.Team{Name: req.Name, Models: req.Models,
		Limits: store.Limits{RPM: req.RPM, TPM: req.TPM, MaxParallel: req.MaxParallel}, Budget: budget, Metadata: req.Metadata,
		Policy: req.Policy})
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: http.StatusConflict, Type: "invalid_request_error", Code: "team_exists", Param: "name",
			Message: fmt.Sprintf("team %q already exists", req.Name)}
	}
	if err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	s.ids.teams.Invalidate(t.Name)
	return writeAdmin(x, http.StatusCreated, t)
}

func (s *Server) adminListTeams(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	teams, err := s.store.Teams(r.Context())
	if err != nil {
		return fmt.Errorf("list teams: %w", err)
	}
	if teams == nil {
		teams = []store.Team{}
	}
	return writeAdmin(x, http.StatusOK, map[string]any{"object": "list", "data": teams})
}

// adminUsage aggregates usage records: GET /admin/v1/usage?group_by=
// team|key|model|provider|user|day&from=&to=&team=&key_id=. from and to are
// RFC 3339 times or dates (YYYY-MM-DD, UTC); to is exclusive.
func (s *Server) adminUsage(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	q := r.URL.Query()
	uq := store.UsageQuery{GroupBy: q.Get("group_by"), Team: q.Get("team"), KeyID: q.Get("key_id")}
	if !slices.Contains([]string{"", "team", "key", "model", "provider", "user", "day"}, uq.GroupBy) {
		return badRequest("group_by", fmt.Sprintf("group_by %q is not one of team, key, model, provider, user, day", uq.GroupBy))
	}
	var err error
	if uq.From, err = parseWhen(q.Get("from")); err != nil {
		return badRequest("from", err.Error())
	}
	if uq.To, err = parseWhen(q.Get("to")); err != nil {
		return badRequest("to", err.Error())
	}
	// Records of this replica still queued would be missing: write them first.
	if err := s.usage.Flush(r.Context()); err != nil {
		s.log.Warn("usage flush before aggregation failed", "error", err)
	}
	rows, err := s.store.AggregateUsage(r.Context(), uq)
	if err != nil {
		return fmt.Errorf("aggregate usage: %w", err)
	}
	if rows == nil {
		rows = []store.UsageRow{}
	}
	out := map[string]any{"object": "list", "group_by": uq.GroupBy, "data": rows}
	if !uq.From.IsZero() {
		out["from"] = uq.From
	}
	if !uq.To.IsZero() {
		out["to"] = uq.To
	}
	return writeAdmin(x, http.StatusOK, out)
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date YYYY-MM-DD", s)
}

func writeAdmin(x *exchange, status int, v any) error {
	b, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		return err
	}
	return writeJSON(x, status, append(b, '\n'))
}

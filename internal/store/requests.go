package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Request log limits: ListRequests returns DefaultRequestLimit records when
// RequestQuery.Limit is 0 (or negative), never more than MaxRequestLimit.
const (
	DefaultRequestLimit = 100
	MaxRequestLimit     = 1000
)

// requestColumns are the usage columns a request log entry reads back (day
// is derived from ts; the raw texts live in request_texts).
const requestColumns = `request_id, ts, key_id, key_name, team, user_name, endpoint,
	model_asked, provider, model_used, input_tokens, output_tokens, cached_tokens, cost_usd,
	latency_us, ttft_us, status, error_class, attempts, cache_hit, stream, prompt_hash, response_hash,
	template, saved_usd`

func scanRequest(r scanner) (UsageRecord, error) {
	var (
		u                                     UsageRecord
		tsUS, latUS, ttftUS, status, attempts int64
		cacheHit, stream                      int64
	)
	if err := r.Scan(&u.RequestID, &tsUS, &u.KeyID, &u.KeyName, &u.Team, &u.User, &u.Endpoint,
		&u.ModelAsked, &u.Provider, &u.ModelUsed, &u.InputTokens, &u.OutputTokens, &u.CachedTokens, &u.CostUSD,
		&latUS, &ttftUS, &status, &u.ErrorClass, &attempts, &cacheHit, &stream,
		&u.PromptHash, &u.ResponseHash, &u.Template, &u.SavedUSD); err != nil {
		return UsageRecord{}, err
	}
	u.Time = fromMicro(tsUS)
	u.Latency = time.Duration(latUS) * time.Microsecond
	u.TTFT = time.Duration(ttftUS) * time.Microsecond
	u.Status = int(status)
	u.Attempts = int(attempts)
	u.CacheHit = cacheHit != 0
	u.Stream = stream != 0
	return u, nil
}

// ListRequests pages through the request log newest first, in (ts,
// request_id) descending order; Before continues after the last record of
// the previous page (keyset pagination: stable while new records arrive).
func (s *sqlStore) ListRequests(ctx context.Context, q RequestQuery) ([]UsageRecord, error) {
	var (
		conds []string
		args  []any
	)
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if q.KeyID != "" {
		add("key_id = ?", q.KeyID)
	}
	if q.KeyName != "" {
		add("key_name = ?", q.KeyName)
	}
	if q.Team != "" {
		add("team = ?", q.Team)
	}
	if q.Model != "" {
		add("model_asked = ?", q.Model)
	}
	if q.Status != 0 {
		add("status = ?", int64(q.Status))
	}
	if q.StatusMin != 0 {
		add("status >= ?", int64(q.StatusMin))
	}
	if q.StatusMax != 0 {
		add("status <= ?", int64(q.StatusMax))
	}
	if !q.From.IsZero() {
		add("ts >= ?", toMicro(q.From))
	}
	if !q.To.IsZero() {
		add("ts < ?", toMicro(q.To))
	}
	if q.Before != "" {
		var beforeTS int64
		err := s.queryRow(ctx, `SELECT ts FROM usage WHERE request_id = ?`, q.Before).Scan(&beforeTS)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("store: list requests: before %s: %w", q.Before, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("store: list requests: before %s: %w", q.Before, err)
		}
		// Spelled out rather than a row comparison (ts, request_id) < (?, ?),
		// which older SQLite builds lack.
		add("(ts < ? OR (ts = ? AND request_id < ?))", beforeTS, beforeTS, q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultRequestLimit
	}
	limit = min(limit, MaxRequestLimit)

	sqlText := `SELECT ` + requestColumns + ` FROM usage`
	if len(conds) > 0 {
		sqlText += ` WHERE ` + strings.Join(conds, " AND ")
	}
	sqlText += ` ORDER BY ts DESC, request_id DESC LIMIT ?`
	args = append(args, int64(limit))

	rows, err := s.query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list requests: %w", err)
	}
	defer rows.Close()
	var out []UsageRecord
	for rows.Next() {
		u, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list requests: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list requests: %w", err)
	}
	return out, nil
}

func (s *sqlStore) RequestText(ctx context.Context, requestID string) (RequestText, error) {
	var (
		rt   RequestText
		tsUS int64
	)
	err := s.queryRow(ctx, `SELECT request_id, ts, prompt, response FROM request_texts WHERE request_id = ?`, requestID).
		Scan(&rt.RequestID, &tsUS, &rt.Prompt, &rt.Response)
	if errors.Is(err, sql.ErrNoRows) {
		return RequestText{}, fmt.Errorf("store: request text %s: %w", requestID, ErrNotFound)
	}
	if err != nil {
		return RequestText{}, fmt.Errorf("store: request text %s: %w", requestID, err)
	}
	rt.Time = fromMicro(tsUS)
	return rt, nil
}

// PurgeTexts deletes the texts of requests older than before; a zero before
// deletes nothing. Usage records stay.
func (s *sqlStore) PurgeTexts(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, nil
	}
	res, err := s.exec(ctx, `DELETE FROM request_texts WHERE ts < ?`, toMicro(before))
	if err != nil {
		return 0, fmt.Errorf("store: purge texts: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: purge texts: %w", err)
	}
	return n, nil
}

// DailyBys are the values DailyUsage accepts as by.
var DailyBys = []string{"team", "model"}

var dailyExpr = map[string]string{
	"team":  "team",
	"model": "model_asked",
}

func (s *sqlStore) DailyUsage(ctx context.Context, by string, from, to time.Time) ([]DailyRow, error) {
	expr, ok := dailyExpr[by]
	if !ok {
		return nil, fmt.Errorf("store: daily usage: unknown by %q (valid: %q)", by, DailyBys)
	}
	where, args := usageFilter(from, to, "", "")
	// CAST keeps PostgreSQL from returning SUM(bigint) as numeric.
	rows, err := s.query(ctx, `SELECT day, `+expr+`,
		COUNT(*),
		CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION)
		FROM usage`+where+` GROUP BY day, `+expr, args...)
	if err != nil {
		return nil, fmt.Errorf("store: daily usage: %w", err)
	}
	defer rows.Close()
	var out []DailyRow
	for rows.Next() {
		var r DailyRow
		if err := rows.Scan(&r.Day, &r.Group, &r.Requests, &r.InputTokens, &r.OutputTokens, &r.CostUSD); err != nil {
			return nil, fmt.Errorf("store: daily usage: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: daily usage: %w", err)
	}
	// Sorted in Go, like AggregateUsage, so both engines agree on the
	// order whatever PostgreSQL's collation.
	slices.SortFunc(out, func(a, b DailyRow) int {
		if c := strings.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Group, b.Group)
	})
	return out, nil
}

// Setting reads name, storing create() first when it is absent. The INSERT
// keeps the first value stored and the value is read again after it, so
// replicas racing to create all return the winner's value.
func (s *sqlStore) Setting(ctx context.Context, name string, create func() (string, error)) (string, error) {
	v, err := s.setting(ctx, name)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return v, err
	}
	nv, err := create()
	if err != nil {
		return "", fmt.Errorf("store: setting %s: create: %w", name, err)
	}
	if _, err := s.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, nv); err != nil {
		return "", fmt.Errorf("store: setting %s: %w", name, err)
	}
	v, err = s.setting(ctx, name)
	if err != nil {
		return "", err
	}
	return v, nil
}

// setting reads name; a missing row is an error wrapping sql.ErrNoRows.
func (s *sqlStore) setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", name, err)
	}
	return v, nil
}

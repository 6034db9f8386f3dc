package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// GroupBys are the values UsageQuery.GroupBy accepts ("" groups nothing).
var GroupBys = []string{"", "team", "key", "model", "provider", "user", "day"}

// groupExpr maps UsageQuery.GroupBy to the SQL expression of the group label.
var groupExpr = map[string]string{
	"":     "''",
	"team": "team",
	// People know keys by name; a record without one falls back to the ID.
	"key":      "CASE WHEN key_name <> '' THEN key_name ELSE key_id END",
	"model":    "model_asked",
	"provider": "provider",
	"user":     "user_name",
	"day":      "day",
}

func (s *sqlStore) AggregateUsage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	expr, ok := groupExpr[q.GroupBy]
	if !ok {
		return nil, fmt.Errorf("store: aggregate usage: unknown group_by %q (valid: %q)", q.GroupBy, GroupBys)
	}
	where, args := usageFilter(q.From, q.To, q.Team, q.KeyID)
	// CAST keeps PostgreSQL from returning SUM(bigint) as numeric.
	sqlText := `SELECT ` + expr + `,
		COUNT(*),
		CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT),
		CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION),
		CAST(COALESCE(SUM(saved_usd), 0) AS DOUBLE PRECISION)
		FROM usage` + where
	if q.GroupBy != "" {
		sqlText += ` GROUP BY ` + expr
	}
	rows, err := s.query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("store: aggregate usage: %w", err)
	}
	defer rows.Close()
	var out []UsageRow
	for rows.Next() {
		var r UsageRow
		if err := rows.Scan(&r.Group, &r.Requests, &r.Errors, &r.InputTokens, &r.OutputTokens,
			&r.CachedTokens, &r.CostUSD, &r.SavedUSD); err != nil {
			return nil, fmt.Errorf("store: aggregate usage: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: aggregate usage: %w", err)
	}
	// Sorted here rather than by ORDER BY: PostgreSQL would order by the
	// database collation, SQLite by bytes; Go gives both the same order.
	slices.SortFunc(out, func(a, b UsageRow) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}

func (s *sqlStore) Spend(ctx context.Context, keyID, team string, since time.Time) (float64, error) {
	where, args := usageFilter(since, time.Time{}, team, keyID)
	var usd float64
	err := s.queryRow(ctx, `SELECT CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) FROM usage`+where, args...).Scan(&usd)
	if err != nil {
		return 0, fmt.Errorf("store: spend: %w", err)
	}
	return usd, nil
}

// usageFilter builds the WHERE clause shared by aggregation and spend:
// from inclusive, to exclusive, zero values and empty strings unbounded.
func usageFilter(from, to time.Time, team, keyID string) (string, []any) {
	var (
		conds []string
		args  []any
	)
	if !from.IsZero() {
		conds = append(conds, "ts >= ?")
		args = append(args, toMicro(from))
	}
	if !to.IsZero() {
		conds = append(conds, "ts < ?")
		args = append(args, toMicro(to))
	}
	if team != "" {
		conds = append(conds, "team = ?")
		args = append(args, team)
	}
	if keyID != "" {
		conds = append(conds, "key_id = ?")
		args = append(args, keyID)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

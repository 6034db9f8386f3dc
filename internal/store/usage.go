package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

const usageColumns = `request_id, ts, day, key_id, key_name, team, user_name, endpoint,
	model_asked, provider, model_used, input_tokens, output_tokens, cached_tokens, cost_usd,
	latency_us, ttft_us, status, error_class, attempts, cache_hit, stream, prompt_hash, response_hash,
	template, saved_usd`

const usageArity = 26 // number of usageColumns

// maxParams is SQLite's historical limit on the variables of one statement
// (SQLITE_MAX_VARIABLE_NUMBER before 3.32).
const maxParams = 999

// usageChunk is how many records one multi-row INSERT carries: as many as
// fit under maxParams (38*26 = 988 parameters), which cuts PostgreSQL round
// trips ~40-fold compared with one statement per record. Derived from
// usageArity so that adding a column never breaks the limit.
const usageChunk = maxParams / usageArity

// usageInsert is the INSERT for n records. ON CONFLICT DO NOTHING (same
// syntax on both engines) makes replays idempotent on request_id.
func usageInsert(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", usageArity), ", ") + ")"
	rows := strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	return `INSERT INTO usage (` + usageColumns + `) VALUES ` + rows + ` ON CONFLICT (request_id) DO NOTHING`
}

// usageArgs appends the column values of r in usageColumns order. day is
// computed here, in UTC, so grouping by day needs no engine date function.
func usageArgs(args []any, r *UsageRecord) []any {
	t := r.Time.UTC()
	return append(args,
		r.RequestID, toMicro(t), t.Format("2006-01-02"), r.KeyID, r.KeyName, r.Team, r.User, r.Endpoint,
		r.ModelAsked, r.Provider, r.ModelUsed, r.InputTokens, r.OutputTokens, r.CachedTokens, r.CostUSD,
		r.Latency.Microseconds(), r.TTFT.Microseconds(), int64(r.Status), r.ErrorClass, int64(r.Attempts),
		boolInt(r.CacheHit), boolInt(r.Stream), r.PromptHash, r.ResponseHash,
		r.Template, r.SavedUSD)
}

// textInsert keeps the raw text of a sampled request. Like usage, a replay
// keeps the first row.
const textInsert = `INSERT INTO request_texts (request_id, ts, prompt, response) VALUES (?, ?, ?, ?)
	ON CONFLICT (request_id) DO NOTHING`

func hasText(r *UsageRecord) bool { return r.PromptText != "" || r.ResponseText != "" }

func (s *sqlStore) InsertUsage(ctx context.Context, recs []UsageRecord) (err error) {
	if len(recs) == 0 {
		return nil
	}
	for i := range recs {
		if recs[i].RequestID == "" {
			return fmt.Errorf("store: insert usage: record %d has no request id", i)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: insert usage: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	args := make([]any, 0, usageChunk*usageArity)
	// Full chunks share one prepared statement; the tail uses one of its size.
	if full := len(recs) / usageChunk; full > 0 {
		if err := s.insertChunks(ctx, tx, recs[:full*usageChunk], usageChunk, args); err != nil {
			return err
		}
	}
	if tail := len(recs) % usageChunk; tail > 0 {
		if err := s.insertChunks(ctx, tx, recs[len(recs)-tail:], tail, args); err != nil {
			return err
		}
	}
	if err := s.insertTexts(ctx, tx, recs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: insert usage: commit: %w", err)
	}
	return nil
}

// insertChunks writes recs, a multiple of size long, size records per
// execution of one prepared statement.
func (s *sqlStore) insertChunks(ctx context.Context, tx *sql.Tx, recs []UsageRecord, size int, args []any) error {
	stmt, err := tx.PrepareContext(ctx, s.d.rebind(usageInsert(size)))
	if err != nil {
		return fmt.Errorf("store: insert usage: prepare: %w", err)
	}
	defer stmt.Close()
	for i := 0; i < len(recs); i += size {
		args = args[:0]
		for j := i; j < i+size; j++ {
			args = usageArgs(args, &recs[j])
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: insert usage: %w", err)
		}
	}
	return nil
}

// insertTexts writes the raw text of the records that carry some, one row
// each; records without text write nothing. Sampled requests are few, so one
// prepared statement per batch is enough.
func (s *sqlStore) insertTexts(ctx context.Context, tx *sql.Tx, recs []UsageRecord) error {
	var stmt *sql.Stmt
	for i := range recs {
		r := &recs[i]
		if !hasText(r) {
			continue
		}
		if stmt == nil {
			var err error
			if stmt, err = tx.PrepareContext(ctx, s.d.rebind(textInsert)); err != nil {
				return fmt.Errorf("store: insert usage: prepare texts: %w", err)
			}
			defer stmt.Close()
		}
		if _, err := stmt.ExecContext(ctx, r.RequestID, toMicro(r.Time), r.PromptText, r.ResponseText); err != nil {
			return fmt.Errorf("store: insert usage: text of %s: %w", r.RequestID, err)
		}
	}
	return nil
}

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

// usageInsert is the INSERT for n records in dialect d. A record whose
// request_id is stored already is skipped, so replays are idempotent.
//
// PostgreSQL says ON CONFLICT (request_id) DO NOTHING. SQLite says INSERT OR
// IGNORE, which keeps the same rows here (request_id is the only unique
// constraint of usage, and no bound value is ever NULL) but makes every
// constraint skip a row rather than abort the statement. A multi-row INSERT
// that may abort midway must be undoable on its own, so SQLite keeps a
// statement journal for it: a copy of each page it changes, made as it
// goes. With OR IGNORE there is none to keep: BenchmarkInsertUsage -8%.
func usageInsert(d dialect, n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", usageArity), ", ") + ")"
	rows := strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	if d.orIgnore {
		return `INSERT OR IGNORE INTO usage (` + usageColumns + `) VALUES ` + rows
	}
	return d.rebind(`INSERT INTO usage (` + usageColumns + `) VALUES ` + rows + ` ON CONFLICT (request_id) DO NOTHING`)
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
	var kept *sql.Stmt
	if s.d.keepStmts && len(recs) >= usageChunk {
		// Before BeginTx: preparing on the DB may need a second connection.
		if kept, err = s.keptUsageStmt(ctx); err != nil {
			return err
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
		if err := s.insertChunks(ctx, tx, kept, recs[:full*usageChunk], usageChunk, args); err != nil {
			return err
		}
	}
	if tail := len(recs) % usageChunk; tail > 0 {
		if err := s.insertChunks(ctx, tx, nil, recs[len(recs)-tail:], tail, args); err != nil {
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

// keptUsageStmt returns the full-chunk usage INSERT prepared on the DB,
// preparing it on first use. database/sql prepares it again on each
// connection it first runs on and keeps it there, so a batch no longer
// parses it (~1,000 parameters): BenchmarkInsertUsage -5%.
func (s *sqlStore) keptUsageStmt(ctx context.Context) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.usageStmt == nil {
		stmt, err := s.db.PrepareContext(ctx, usageInsert(s.d, usageChunk))
		if err != nil {
			return nil, fmt.Errorf("store: insert usage: prepare: %w", err)
		}
		s.usageStmt = stmt
	}
	return s.usageStmt, nil
}

// insertChunks writes recs, a multiple of size long, size records per
// execution of one prepared statement: kept (a statement of s.db for size
// records) when not nil, else one prepared in tx.
func (s *sqlStore) insertChunks(ctx context.Context, tx *sql.Tx, kept *sql.Stmt, recs []UsageRecord, size int, args []any) error {
	var stmt *sql.Stmt
	if kept != nil {
		stmt = tx.StmtContext(ctx, kept)
	} else {
		var err error
		if stmt, err = tx.PrepareContext(ctx, usageInsert(s.d, size)); err != nil {
			return fmt.Errorf("store: insert usage: prepare: %w", err)
		}
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

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// sqlStore implements Store over database/sql for both engines.
type sqlStore struct {
	db *sql.DB
	d  dialect

	stmtMu    sync.Mutex
	usageStmt *sql.Stmt // the full-chunk usage INSERT when d.keepStmts, prepared on first use
}

var _ Store = (*sqlStore)(nil)

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

func (s *sqlStore) Close() error {
	s.stmtMu.Lock()
	if s.usageStmt != nil {
		_ = s.usageStmt.Close() // db.Close would finalize it on each connection anyway
		s.usageStmt = nil
	}
	s.stmtMu.Unlock()
	return s.db.Close()
}

// exec, query and queryRow rebind ? placeholders for the engine.
func (s *sqlStore) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.d.rebind(q), args...)
}

func (s *sqlStore) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.d.rebind(q), args...)
}

func (s *sqlStore) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// newID is prefix + 16 hex characters from crypto/rand.
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + hex.EncodeToString(b[:])
}

// now is the creation time stored for rows: UTC and cut to the microsecond
// the columns hold, so the value returned equals the value read back.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// toMicro stores a time as unix microseconds; the zero time is 0 (both
// engines then agree on comparisons, and "never"/"live" is just 0).
func toMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// encodeList and encodeMap store JSON text; empty values are "" so that
// they read back as nil.
func encodeList(v []string) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func encodeMap(v map[string]string) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func decodeList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

func decodeMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

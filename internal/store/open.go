package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Drivers are the values Open accepts as driver.
var Drivers = []string{"sqlite", "postgres"}

// Open connects to the database, checks it answers and brings its schema up
// to date. driver is "sqlite" (dsn is a file path, created with its parent
// directory when missing) or "postgres" (dsn is a libpq/pgx URL or keyword
// string, which may set search_path to use a schema of its own).
func Open(ctx context.Context, driver, dsn string) (Store, error) {
	var (
		d        dialect
		sqlName  string
		sqlDSN   string
		lockPath string
	)
	switch driver {
	case "sqlite":
		if dsn == "" {
			return nil, fmt.Errorf("store: open sqlite: empty path")
		}
		if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		d, sqlName, sqlDSN, lockPath = sqliteDialect, "sqlite", sqliteDSN(dsn), dsn+".migrate-lock"
	case "postgres":
		d, sqlName, sqlDSN = postgresDialect, "pgx", dsn
	default:
		return nil, fmt.Errorf("store: unknown driver %q (valid: %q)", driver, Drivers)
	}

	db, err := sql.Open(sqlName, sqlDSN)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", driver, err)
	}
	if err := prepare(ctx, db, d, lockPath); err != nil {
		db.Close()
		return nil, err
	}
	return &sqlStore{db: db, d: d}, nil
}

// prepare pings the database and migrates it. For SQLite both happen under
// the migration file lock: a process's first connection switches a new file
// to WAL, which needs an exclusive lock that can fail at once with
// SQLITE_BUSY (no busy wait) while another process holds the database.
func prepare(ctx context.Context, db *sql.DB, d dialect, lockPath string) (err error) {
	if lockPath != "" {
		unlock, err := lockFile(ctx, lockPath)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		defer func() {
			if uerr := unlock(); err == nil && uerr != nil {
				err = fmt.Errorf("store: migrate: unlock: %w", uerr)
			}
		}()
	}
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", d.name, err)
	}
	if err := migrate(ctx, db, d); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// sqliteDSN turns a file path into a modernc.org/sqlite DSN. The pragmas run
// on every new connection of the pool:
//   - busy_timeout first, so concurrent writers (other connections, other
//     processes) wait for the lock instead of failing with SQLITE_BUSY;
//   - WAL lets readers proceed while one connection writes;
//   - synchronous=NORMAL is durable enough under WAL and much faster;
//   - foreign_keys is off by default in SQLite, unlike PostgreSQL.
//
// _txlock=immediate makes BEGIN take the write lock at once: a deferred
// transaction that reads and then writes can fail with SQLITE_BUSY_SNAPSHOT
// without the busy handler ever waiting.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(on)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	// SQLite decodes %HH in a file: URI path and ends the path at ? or #.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}

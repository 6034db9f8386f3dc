package store

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is everything that differs between the two engines. Queries are
// written once with ? placeholders and SQL both engines accept; only the
// placeholder style, the goose dialect, the shape of a unique-violation
// error and, for speed, how usage records are inserted differ.
type dialect struct {
	name       string
	goose      goose.Dialect
	dollarArgs bool // PostgreSQL wants $1, $2, ...
	// orIgnore: the usage INSERT says INSERT OR IGNORE (SQLite only) rather
	// than ON CONFLICT DO NOTHING; see usageInsert.
	orIgnore bool
	// keepStmts: the full-chunk usage INSERT is prepared once per connection
	// and kept across transactions instead of once per transaction. SQLite
	// only: in PostgreSQL a prepared statement lives on the server, where a
	// transaction-mode pooler between us and it would lose it.
	keepStmts bool
}

var (
	sqliteDialect   = dialect{name: "sqlite", goose: goose.DialectSQLite3, orIgnore: true, keepStmts: true}
	postgresDialect = dialect{name: "postgres", goose: goose.DialectPostgres, dollarArgs: true}
)

// rebind rewrites ? placeholders for the engine. Our queries never hold a
// literal question mark, so a plain scan is enough.
func (d dialect) rebind(q string) string {
	if !d.dollarArgs {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// isUniqueViolation reports whether err is a UNIQUE / PRIMARY KEY violation
// on either engine.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	// Fallback on the message, in case a wrapper hid the typed error.
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationsFS holds the goose SQL migrations, shared by both engines.
//
//go:embed migrations/*.sql
var migrationsFS embed.FS

// migrate brings the schema up to date. Several replicas may start at once,
// so the run happens under an exclusive lock — otherwise two processes could
// both see a migration as pending and apply it twice:
//   - PostgreSQL: a session-level advisory lock (goose's session locker).
//   - SQLite: the engine has no advisory lock, so the caller (prepare) holds
//     an flock(2) on a file next to the database (see lockFile). It spans
//     the whole of Up, not just what a goose SessionLocker would cover,
//     because goose checks for pending migrations (and creates its version
//     table) before taking its locker; unlocked, concurrent first starts
//     collide there and goose retries only after a second.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	fsys, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		// Only our embedded files: never pick up Go migrations some other
		// package registered globally with goose.
		goose.WithDisableGlobalRegistry(true),
	}
	if d.goose == goose.DialectPostgres {
		// Retry every second (not goose's default 5s) for up to 5 minutes:
		// replicas started together should not stall for long.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d.goose, db, fsys, opts...)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	return nil
}

// latestVersion is the newest migration version embedded in this build.
func latestVersion() (int64, error) {
	fsys, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return 0, err
	}
	// No database is needed to read the sources: goose parses file names.
	srcs, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, err
	}
	var v int64
	for _, s := range srcs {
		n, err := goose.NumericComponent(s)
		if err != nil {
			return 0, fmt.Errorf("store: migration %s: %w", s, err)
		}
		v = max(v, n)
	}
	return v, nil
}

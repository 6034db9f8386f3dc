package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/testenv"
)

// engine is one database a behaviour is checked against.
type engine struct {
	name string
	dsn  func(t *testing.T) string // a fresh, empty database
}

var engines = []engine{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "data", "store.db") }},
	// testenv skips (or fails under SWITCHBOARD_REQUIRE_INTEGRATION=1) when
	// no PostgreSQL is configured; as a subtest only this variant skips.
	{"postgres", func(t *testing.T) string { return testenv.Postgres(t) }},
}

// forEachEngine runs fn as one subtest per engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, driver, dsn string)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { fn(t, e.name, e.dsn(t)) })
	}
}

// openStore opens a store closed at the end of the test.
func openStore(t *testing.T, driver, dsn string) *sqlStore {
	t.Helper()
	s, err := Open(ctx(t), driver, dsn)
	if err != nil {
		t.Fatalf("Open(%s): %v", driver, err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*sqlStore)
}

// withStore runs fn against a fresh store on each engine.
func withStore(t *testing.T, fn func(t *testing.T, s *sqlStore)) {
	t.Helper()
	forEachEngine(t, func(t *testing.T, driver, dsn string) { fn(t, openStore(t, driver, dsn)) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// ts is a fixed, microsecond-exact UTC time plus an offset.
func ts(d time.Duration) time.Time {
	return time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC).Add(d)
}

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenUnknownDriver(t *testing.T) {
	_, err := Open(context.Background(), "mysql", "x")
	if err == nil || !strings.Contains(err.Error(), `"sqlite"`) || !strings.Contains(err.Error(), `"postgres"`) {
		t.Errorf("Open(mysql) = %v, want an error naming sqlite and postgres", err)
	}
}

func TestOpenBadPostgres(t *testing.T) {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Port 1 refuses at once: Open must fail at the ping, not later.
	if _, err := Open(c, "postgres", "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"); err == nil {
		t.Error("Open on an unreachable server succeeded")
	}
}

func TestSQLiteDSN(t *testing.T) {
	got := sqliteDSN("/tmp/a b/x%y?.db")
	for _, want := range []string{"file:/tmp/a b/x%25y%3f.db?", "_pragma=busy_timeout%285000%29",
		"_pragma=journal_mode%28WAL%29", "_pragma=foreign_keys%28on%29", "_pragma=synchronous%28NORMAL%29", "_txlock=immediate"} {
		if !strings.Contains(got, want) {
			t.Errorf("sqliteDSN = %s, missing %s", got, want)
		}
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := openStore(t, "sqlite", filepath.Join(t.TempDir(), "p.db"))
	c := ctx(t)
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "synchronous": "1",
	} {
		var got string
		if err := s.db.QueryRowContext(c, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

// appliedVersions lists the goose version rows above 0, one per applied
// migration; a migration applied twice would show twice.
func appliedVersions(t *testing.T, s *sqlStore) []int64 {
	t.Helper()
	rows, err := s.query(ctx(t), `SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantMigratedOnce(t *testing.T, s *sqlStore) {
	t.Helper()
	latest, err := latestVersion()
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for v := int64(1); v <= latest; v++ {
		want = append(want, v)
	}
	if got := appliedVersions(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("applied migrations %v, want each of %v once", got, want)
	}
}

// TestConcurrentOpen starts four replicas at once on one empty database:
// all must succeed and the schema must be migrated exactly once.
func TestConcurrentOpen(t *testing.T) {
	forEachEngine(t, func(t *testing.T, driver, dsn string) {
		const n = 4
		var (
			wg     sync.WaitGroup
			stores [n]Store
			errs   [n]error
			start  = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = Open(ctx(t), driver, dsn)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open #%d: %v", i, errs[i])
				continue
			}
			defer stores[i].Close()
		}
		if t.Failed() {
			return
		}
		wantMigratedOnce(t, stores[0].(*sqlStore))
		// Every replica works on the one schema.
		if _, err := stores[1].CreateTeam(ctx(t), Team{Name: "shared"}); err != nil {
			t.Fatal(err)
		}
		if _, err := stores[3].Team(ctx(t), "shared"); err != nil {
			t.Errorf("team created by one replica not seen by another: %v", err)
		}
	})
}

func TestReopen(t *testing.T) {
	forEachEngine(t, func(t *testing.T, driver, dsn string) {
		s, err := Open(ctx(t), driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateTeam(ctx(t), Team{Name: "kept"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := openStore(t, driver, dsn)
		if _, err := s2.Team(ctx(t), "kept"); err != nil {
			t.Errorf("team lost across reopen: %v", err)
		}
		if err := s2.Ping(ctx(t)); err != nil {
			t.Errorf("Ping: %v", err)
		}
		wantMigratedOnce(t, s2)
	})
}

// helperEnv makes the test binary, re-run by TestSQLiteConcurrentProcesses,
// open the database it names and exit.
const helperEnv = "STORE_TEST_OPEN_SQLITE"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		s, err := Open(c, "sqlite", path)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSQLiteConcurrentProcesses is TestConcurrentOpen across real processes,
// the case an in-process mutex would not cover.
func TestSQLiteConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multi", "store.db")
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]strings.Builder, n)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^$")
		cmds[i].Env = append(os.Environ(), helperEnv+"="+path)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var errs []error
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("process %d: %w: %s", i, err, outs[i].String()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	wantMigratedOnce(t, openStore(t, "sqlite", path))
}

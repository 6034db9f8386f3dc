// Package testenv gives tests the real PostgreSQL and Redis of the machine
// they run on. A test that needs one is skipped when its variable
// (SWITCHBOARD_TEST_POSTGRES, SWITCHBOARD_TEST_REDIS) is unset, and fails
// instead when SWITCHBOARD_REQUIRE_INTEGRATION=1, so CI cannot pass by
// skipping. Each test gets its own PostgreSQL schema and Redis key prefix,
// so packages running in parallel never see each other's data.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
)

func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("SWITCHBOARD_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s is unset but SWITCHBOARD_REQUIRE_INTEGRATION=1", name)
		}
		t.Skipf("%s not set", name)
	}
	return v
}

// Unique is a short random name for this test's schema or key prefix.
func Unique() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Postgres returns a DSN for SWITCHBOARD_TEST_POSTGRES whose search_path is
// a fresh schema, dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	base := need(t, "SWITCHBOARD_TEST_POSTGRES")
	schema := "sbt_" + Unique()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testenv: open postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("testenv: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("testenv: drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: SWITCHBOARD_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL returns SWITCHBOARD_TEST_REDIS.
func RedisURL(t testing.TB) string {
	t.Helper()
	return need(t, "SWITCHBOARD_TEST_REDIS")
}

// Redis returns a client for SWITCHBOARD_TEST_REDIS and a key prefix of
// this test's own; keys under the prefix are deleted when the test ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("testenv: SWITCHBOARD_TEST_REDIS: %v", err)
	}
	c := redis.NewClient(opt)
	prefix := "sbt:" + Unique() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c, prefix
}

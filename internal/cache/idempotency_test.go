package cache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type store interface {
	Begin(ctx context.Context, key string, fp [32]byte) (*Stored, error)
	Complete(ctx context.Context, key string, s *Stored)
	Abort(ctx context.Context, key string)
}

// redisClient returns a client for SWITCHBOARD_TEST_REDIS, skipping the
// test when it is unset unless SWITCHBOARD_REQUIRE_INTEGRATION=1.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("SWITCHBOARD_TEST_REDIS")
	if url == "" {
		if os.Getenv("SWITCHBOARD_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("SWITCHBOARD_TEST_REDIS is unset but SWITCHBOARD_REQUIRE_INTEGRATION=1")
		}
		t.Skip("SWITCHBOARD_TEST_REDIS not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", url, err)
	}
	return c
}

func stores() map[string]func(t *testing.T) store {
	return map[string]func(t *testing.T) store{
		"memory": func(*testing.T) store { return NewMemory(time.Minute, 1000) },
		"redis": func(t *testing.T) store {
			c := redisClient(t)
			// A fresh prefix per store keeps test runs apart.
			return NewRedis(c, fmt.Sprintf("sbtest:%d:", rand.Uint64()), time.Minute, 5*time.Second)
		},
	}
}

func TestIdempotency(t *testing.T) {
	for name, mk := range stores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := mk(t)
			fp := sha256.Sum256([]byte("request"))

			// Concurrent duplicates: one leads, the rest wait for its answer.
			var leaders atomic.Int64
			var wg sync.WaitGroup
			results := make([]*Stored, 8)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := s.Begin(ctx, "k1", fp)
					if err != nil {
						t.Errorf("Begin: %v", err)
						return
					}
					if res == nil {
						leaders.Add(1)
						time.Sleep(50 * time.Millisecond) // the upstream call
						res = &Stored{Status: 200, Body: []byte("answer"), Fingerprint: fp, Header: map[string]string{"Content-Type": "application/json"}}
						s.Complete(ctx, "k1", res)
					}
					results[i] = res
				}()
			}
			wg.Wait()
			if leaders.Load() != 1 {
				t.Errorf("%d leaders for one key, want 1", leaders.Load())
			}
			for i, r := range results {
				if r == nil || string(r.Body) != "answer" || r.Header["Content-Type"] != "application/json" {
					t.Errorf("caller %d got %+v, want the leader's answer", i, r)
				}
			}

			// A later repeat gets the stored answer; another request with the key is refused.
			if r, err := s.Begin(ctx, "k1", fp); err != nil || r == nil || r.Status != 200 {
				t.Errorf("repeat: %+v, %v; want the stored answer", r, err)
			}
			if _, err := s.Begin(ctx, "k1", sha256.Sum256([]byte("other"))); !errors.Is(err, ErrMismatch) {
				t.Errorf("reuse with another request: %v, want ErrMismatch", err)
			}

			// An aborted leader lets the next caller lead.
			if r, err := s.Begin(ctx, "k2", fp); r != nil || err != nil {
				t.Fatalf("first Begin(k2) = %v, %v; want to lead", r, err)
			}
			s.Abort(ctx, "k2")
			if r, err := s.Begin(ctx, "k2", fp); r != nil || err != nil {
				t.Errorf("Begin after Abort = %v, %v; want to lead again", r, err)
			}

			// A waiter whose context ends gives up.
			cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			if _, err := s.Begin(cctx, "k2", fp); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("waiting past the deadline: %v", err)
			}
		})
	}
}

func TestMemoryExpiry(t *testing.T) {
	m := NewMemory(20*time.Millisecond, 10)
	ctx := context.Background()
	fp := sha256.Sum256([]byte("x"))
	m.Begin(ctx, "k", fp)
	m.Complete(ctx, "k", &Stored{Status: 200, Fingerprint: fp})
	time.Sleep(30 * time.Millisecond)
	if r, err := m.Begin(ctx, "k", fp); r != nil || err != nil {
		t.Errorf("after the TTL Begin = %v, %v; want to lead", r, err)
	}
}

package limit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/switchboard-gw/switchboard/internal/testenv"
)

// secondClient is another connection to the test Redis, as another replica
// would have.
func secondClient(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisShared(t *testing.T) {
	for name, f := range map[string]func(*testing.T, Limiter){
		"RPM": testRPM, "TPMAdjust": testTPMAdjust, "Parallel": testParallel, "AllOrNothing": testAllOrNothing,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, prefix := testenv.Redis(t)
			f(t, NewRedis(c, prefix))
		})
	}
}

func TestRedisRefill(t *testing.T) {
	t.Parallel()
	c, prefix := testenv.Redis(t)
	r := NewRedis(c, prefix)
	rules := []Rule{{Scope: "key:refill", TPM: 60000}} // one token per ms
	admit(t, r, rules, 60000, "a")
	d := admit(t, r, rules, 100, "b")
	if d.Allowed || !within(d.RetryAfter, 50*time.Millisecond, 100*time.Millisecond) {
		t.Fatalf("= %+v, want refused for about 100ms", d)
	}
	time.Sleep(d.RetryAfter + 5*time.Millisecond)
	if d := admit(t, r, rules, 100, "b"); !d.Allowed {
		t.Fatalf("after RetryAfter = %+v, want allowed", d)
	}
}

func TestRedisKeysExpire(t *testing.T) {
	t.Parallel()
	c, prefix := testenv.Redis(t)
	r := NewRedis(c, prefix)
	admit(t, r, []Rule{{Scope: "key:ttl", RPM: 10, TPM: 100, MaxParallel: 2}}, 10, "a")
	ctx := context.Background()
	// The hash lives until both buckets are full (6s) plus a minute; the
	// lease set as long as its newest lease.
	if ttl := c.PTTL(ctx, prefix+"rl:key:ttl").Val(); !within(ttl, 65*time.Second, 66*time.Second) {
		t.Fatalf("bucket TTL = %v, want about 66s", ttl)
	}
	if ttl := c.PTTL(ctx, prefix+"rlp:key:ttl").Val(); !within(ttl, 9*time.Minute, 10*time.Minute) {
		t.Fatalf("lease set TTL = %v, want about 10m", ttl)
	}
}

func TestRedisLeaseExpires(t *testing.T) {
	t.Parallel()
	c, prefix := testenv.Redis(t)
	r := NewRedis(c, prefix)
	r.LeaseTTL = 200 * time.Millisecond
	rules := []Rule{{Scope: "key:crash", MaxParallel: 1}}
	if d := admit(t, r, rules, 0, "crashed-replica"); !d.Allowed {
		t.Fatalf("first = %+v", d)
	}
	if d := admit(t, r, rules, 0, "b"); d.Allowed {
		t.Fatal("second slot given while the first is held")
	}
	time.Sleep(250 * time.Millisecond)
	if d := admit(t, r, rules, 0, "b"); !d.Allowed {
		t.Fatalf("after the lease expired = %+v, want allowed", d)
	}
}

// TestRedisReplicasExact splits concurrent Admits across two limiters on
// two clients, as two replicas would: together they admit exactly the cap.
func TestRedisReplicasExact(t *testing.T) {
	t.Parallel()
	c, prefix := testenv.Redis(t)
	a, b := NewRedis(c, prefix), NewRedis(secondClient(t), prefix)
	// RPM 50 refills one request per 1.2s, far longer than the run takes.
	testConcurrent(t, []Limiter{a, b}, 20, 10, 50)
}

func TestRedisReplicasParallel(t *testing.T) {
	t.Parallel()
	c, prefix := testenv.Redis(t)
	a, b := NewRedis(c, prefix), NewRedis(secondClient(t), prefix)
	testParallelConcurrent(t, []Limiter{a, b}, 20, 10, 5)
}

func TestRedisErrorWrapped(t *testing.T) {
	t.Parallel()
	c, prefix := testenv.Redis(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewRedis(c, prefix).Admit(ctx, []Rule{{Scope: "k", RPM: 1}}, 0, "l")
	if err == nil || !strings.HasPrefix(err.Error(), "limit: redis admit: ") || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a wrapped error", err)
	}
}

package respcache

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-gw/switchboard/internal/testenv"
)

func TestEntryEncoding(t *testing.T) {
	for _, e := range []Entry{
		sampleEntry(),
		{},
		{Body: []byte{}, Stream: nil, Created: time.Unix(-5, 7), CostUSD: -1.5, InputTokens: -1, Status: -3},
		{Body: nil, Stream: []byte{}, CachedTokens: 1 << 60},
	} {
		b := encodeEntry(&e)
		if len(b) > encodedSize(&e) {
			t.Errorf("encoding is %d bytes, over its bound %d", len(b), encodedSize(&e))
		}
		got, err := decodeEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(e, got); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
		for i := range len(b) {
			if _, err := decodeEntry(b[:i]); err == nil {
				t.Errorf("decode of %d of %d bytes succeeded", i, len(b))
			}
		}
		if _, err := decodeEntry(append(b, 0)); err == nil {
			t.Error("decode with trailing byte succeeded")
		}
	}
}

func TestRedisSetGet(t *testing.T) {
	c, prefix := testenv.Redis(t)
	r := NewRedis(c, prefix)
	ctx := context.Background()

	if _, ok, err := r.Get(ctx, "missing"); ok || err != nil {
		t.Fatalf("Get(missing) = %v, %v", ok, err)
	}
	want := sampleEntry()
	if err := r.Set(ctx, "k", want, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := r.Get(ctx, "k")
	if !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("entry (-want +got):\n%s", d)
	}
	if n, err := c.Exists(ctx, prefix+"rc:k").Result(); err != nil || n != 1 {
		t.Errorf("key %s not in Redis: %d, %v", prefix+"rc:k", n, err)
	}

	// ttl <= 0 stores nothing.
	if err := r.Set(ctx, "zero", want, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.Get(ctx, "zero"); ok {
		t.Error("entry stored with ttl 0")
	}

	// A corrupt value is an error, not a hit.
	c.Set(ctx, prefix+"rc:bad", "garbage", time.Minute)
	if _, ok, err := r.Get(ctx, "bad"); ok || err == nil {
		t.Errorf("Get(corrupt) = %v, %v; want an error", ok, err)
	}
}

func TestRedisTTL(t *testing.T) {
	c, prefix := testenv.Redis(t)
	r := NewRedis(c, prefix)
	ctx := context.Background()
	const ttl = 90 * time.Second
	if err := r.Set(ctx, "k", sampleEntry(), ttl); err != nil {
		t.Fatal(err)
	}
	pttl, err := c.PTTL(ctx, prefix+"rc:k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= ttl-5*time.Second || pttl > ttl {
		t.Errorf("PTTL = %v, want in (%v, %v]", pttl, ttl-5*time.Second, ttl)
	}

	if err := r.Set(ctx, "short", sampleEntry(), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	pttl, _ = c.PTTL(ctx, prefix+"rc:short").Result()
	if pttl <= 0 || pttl > 50*time.Millisecond {
		t.Errorf("PTTL = %v, want in (0, 50ms]", pttl)
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok, err := r.Get(ctx, "short"); ok || err != nil {
		t.Errorf("Get after ttl = %v, %v; want a miss", ok, err)
	}
}

func TestRedisSharedBetweenReplicas(t *testing.T) {
	c1, prefix := testenv.Redis(t)
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c2 := redis.NewClient(opt)
	defer c2.Close()
	a, b := NewRedis(c1, prefix), NewRedis(c2, prefix)
	ctx := context.Background()

	want := sampleEntry()
	if err := a.Set(ctx, "shared", want, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.Get(ctx, "shared")
	if !ok || err != nil {
		t.Fatalf("replica b Get = %v, %v", ok, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("entry (-want +got):\n%s", d)
	}
	// A later write by b is what a reads.
	want.Body = []byte(`{"v":2}`)
	if err := b.Set(ctx, "shared", want, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := a.Get(ctx, "shared"); !bytes.Equal(got.Body, want.Body) {
		t.Errorf("replica a reads %s, want %s", got.Body, want.Body)
	}
}

func TestRedisOversized(t *testing.T) {
	c, prefix := testenv.Redis(t)
	r := NewRedis(c, prefix)
	ctx := context.Background()
	if err := r.Set(ctx, "big", sampleEntry(), time.Minute); err != nil {
		t.Fatal(err)
	}
	e := sampleEntry()
	e.Body = bytes.Repeat([]byte("x"), MaxRedisEntryBytes)
	if err := r.Set(ctx, "big", e, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, prefix+"rc:big").Result(); n != 0 {
		t.Error("oversized entry (or its predecessor) kept in Redis")
	}
	if _, ok, _ := r.Get(ctx, "big"); ok {
		t.Error("oversized entry served")
	}
	// Just under the limit is stored.
	e.Body = e.Body[:MaxRedisEntryBytes-1024]
	if err := r.Set(ctx, "almost", e, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := r.Get(ctx, "almost"); !ok || err != nil || len(got.Body) != len(e.Body) {
		t.Errorf("entry under the limit: %v, %v, %d bytes", ok, err, len(got.Body))
	}
}

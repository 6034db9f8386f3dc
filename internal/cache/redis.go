package cache

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"
)

// Redis is the idempotency store shared by replicas. A leader holds
// PREFIX:lock (SET NX, valued with the request fingerprint) while its
// request runs and writes PREFIX:res when it completes; other callers poll
// for the response while the lock exists.
type Redis struct {
	c       redis.UniversalClient
	ttl     time.Duration // how long a completed response is kept
	lockTTL time.Duration // how long a claim may be held by a leader that died
	poll    time.Duration
	prefix  string
}

// NewRedis makes a store on client c. lockTTL bounds how long waiters wait
// for a leader that never completes (a crashed replica): after it, one of
// them leads.
func NewRedis(c redis.UniversalClient, prefix string, ttl, lockTTL time.Duration) *Redis {
	return &Redis{c: c, ttl: ttl, lockTTL: lockTTL, poll: 50 * time.Millisecond, prefix: prefix}
}

func (r *Redis) keys(key string) (lock, res string) {
	return r.prefix + "idem:{" + key + "}:lock", r.prefix + "idem:{" + key + "}:res"
}

// Begin behaves as Memory.Begin across every replica sharing the Redis.
//
// The claim comes first and the stored answer is checked after winning it:
// Complete writes the answer and drops the claim in one transaction, so a
// caller that wins a claim after a leader finished always sees its answer
// (checking the answer first would leave a window in which both are missed).
func (r *Redis) Begin(ctx context.Context, key string, fp [32]byte) (*Stored, error) {
	lock, resKey := r.keys(key)
	want := hex.EncodeToString(fp[:])
	for {
		won, err := r.c.SetNX(ctx, lock, want, r.lockTTL).Result()
		if err != nil {
			return nil, fmt.Errorf("idempotency: claim: %w", err)
		}
		s, err := r.stored(ctx, resKey, fp)
		if won {
			if s != nil || err != nil {
				r.c.Del(context.WithoutCancel(ctx), lock)
				return s, err
			}
			return nil, nil
		}
		if s != nil || err != nil {
			return s, err
		}
		holder, err := r.c.Get(ctx, lock).Result()
		if err == nil && holder != want {
			return nil, ErrMismatch
		}
		t := time.NewTimer(r.poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// stored reads a completed answer, nil when there is none.
func (r *Redis) stored(ctx context.Context, resKey string, fp [32]byte) (*Stored, error) {
	b, err := r.c.Get(ctx, resKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: get: %w", err)
	}
	var s Stored
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("idempotency: decode stored response: %w", err)
	}
	if s.Fingerprint != fp {
		return nil, ErrMismatch
	}
	return &s, nil
}

// Complete stores the response and releases the claim.
func (r *Redis) Complete(ctx context.Context, key string, s *Stored) {
	lock, resKey := r.keys(key)
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	pipe := r.c.TxPipeline()
	pipe.Set(ctx, resKey, b, r.ttl)
	pipe.Del(ctx, lock)
	pipe.Exec(ctx)
}

// Abort releases the claim without a response.
func (r *Redis) Abort(ctx context.Context, key string) {
	lock, _ := r.keys(key)
	r.c.Del(context.WithoutCancel(ctx), lock)
}

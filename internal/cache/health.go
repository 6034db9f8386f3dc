package cache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Breakers shares circuit-breaker trips between replicas through Redis: a
// replica that opens a deployment's circuit records until when, and every
// replica reads those records periodically, so a deployment that is down is
// shed by all of them, not rediscovered by each.
type Breakers struct {
	c      redis.UniversalClient
	prefix string
}

// NewBreakers makes the shared breaker store on client c.
func NewBreakers(c redis.UniversalClient, prefix string) *Breakers {
	return &Breakers{c: c, prefix: prefix + "breaker:"}
}

// Trip records that deployment id is open until until.
func (b *Breakers) Trip(ctx context.Context, id string, until time.Time) error {
	ttl := time.Until(until)
	if ttl <= 0 {
		return nil
	}
	return b.c.Set(ctx, b.prefix+id, strconv.FormatInt(until.UnixMilli(), 10), ttl).Err()
}

// OpenUntil returns, for each id, until when another replica opened it (the
// zero time when it is not open).
func (b *Breakers) OpenUntil(ctx context.Context, ids []string) ([]time.Time, error) {
	out := make([]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = b.prefix + id
	}
	vals, err := b.c.MGet(ctx, keys...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			out[i] = time.UnixMilli(ms)
		}
	}
	return out, nil
}

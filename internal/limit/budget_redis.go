package limit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisSpender is the Spender shared by replicas: one integer counter of
// micro-dollars per budget and period, PREFIX+"spend:"+scope+":"+period+":"+
// start (unix seconds), expiring a day after the period ends. INCRBY
// serialises charges, so each replica sees a distinct old..new interval and
// every threshold is crossed by exactly one charge.
type RedisSpender struct {
	c          *redis.Client
	prefix     string
	seed       Seeder
	thresholds []float64
}

// NewRedisSpender makes a spender on c under prefix that seeds missing
// counters from seed (nil: from zero) and reports crossings of thresholds.
func NewRedisSpender(c *redis.Client, prefix string, seed Seeder, thresholds []float64) *RedisSpender {
	return &RedisSpender{c: c, prefix: prefix, seed: seed, thresholds: thresholds}
}

// incrScript adds ARGV[1] to each counter in KEYS that exists and returns,
// per key, 1 and its new value or 0 and 0 when it does not exist (it must
// be seeded first, or the seed would be lost).
var incrScript = redis.NewScript(`
local out = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[2*i-1], out[2*i] = 1, redis.call('INCRBY', KEYS[i], ARGV[1])
  else
    out[2*i-1], out[2*i] = 0, 0
  end
end
return out
`)

// period is one budget's current counter.
type period struct {
	key        string
	start, end time.Time
}

func (s *RedisSpender) periods(budgets []Budget, now time.Time) ([]period, error) {
	ps := make([]period, len(budgets))
	for i, b := range budgets {
		start, end, err := Period(b.Period, now)
		if err != nil {
			return nil, err
		}
		ps[i] = period{s.prefix + "spend:" + b.Scope + ":" + b.Period + ":" + strconv.FormatInt(start.Unix(), 10), start, end}
	}
	return ps, nil
}

// seedKey creates a missing counter with what the seeder says was spent;
// SET NX makes the first replica's seed the one that counts.
func (s *RedisSpender) seedKey(ctx context.Context, b *Budget, p period) error {
	v, err := seedMicros(ctx, s.seed, b.Scope, p.start)
	if err != nil {
		return err
	}
	err = s.c.SetArgs(ctx, p.key, v, redis.SetArgs{Mode: "NX", ExpireAt: p.end.Add(24 * time.Hour)}).Err()
	if err != nil && !errors.Is(err, redis.Nil) { // redis.Nil: another replica seeded it first
		return fmt.Errorf("limit: redis seed spend: %w", err)
	}
	return nil
}

// Check implements Spender.
func (s *RedisSpender) Check(ctx context.Context, budgets []Budget, now time.Time) (*Budget, float64, time.Time, error) {
	if len(budgets) == 0 {
		return nil, 0, time.Time{}, nil
	}
	ps, err := s.periods(budgets, now)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	keys := make([]string, len(ps))
	for i := range ps {
		keys[i] = ps[i].key
	}
	vals, err := s.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("limit: redis check spend: %w", err)
	}
	for i := range budgets {
		b := &budgets[i]
		spent, err := s.spent(ctx, b, ps[i], vals[i])
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		if exceeded(b, spent) {
			return b, fromMicros(spent), ps[i].end, nil
		}
	}
	return nil, 0, time.Time{}, nil
}

// spent parses a counter read by MGET, seeding it when it is missing
// (rather than reading the usage store on every Check).
func (s *RedisSpender) spent(ctx context.Context, b *Budget, p period, val any) (int64, error) {
	if val == nil {
		if err := s.seedKey(ctx, b, p); err != nil {
			return 0, err
		}
		v, err := s.c.Get(ctx, p.key).Int64()
		if err != nil {
			return 0, fmt.Errorf("limit: redis check spend: %w", err)
		}
		return v, nil
	}
	str, _ := val.(string)
	v, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("limit: redis check spend: %w", err)
	}
	return v, nil
}

// Charge implements Spender.
func (s *RedisSpender) Charge(ctx context.Context, budgets []Budget, usd float64, now time.Time) ([]Crossing, error) {
	delta := toMicros(usd)
	if delta == 0 || len(budgets) == 0 {
		return nil, nil
	}
	ps, err := s.periods(budgets, now)
	if err != nil {
		return nil, err
	}
	var out []Crossing
	todo := make([]int, len(budgets)) // budgets not charged yet
	for i := range todo {
		todo[i] = i
	}
	// Normally one round: counters exist. A missing one is seeded and its
	// charge retried; a second miss (evicted in between) is an error.
	for round := 0; len(todo) > 0; round++ {
		if round == 2 {
			return out, fmt.Errorf("limit: redis charge: counter %s vanished after seeding", ps[todo[0]].key)
		}
		keys := make([]string, len(todo))
		for j, i := range todo {
			keys[j] = ps[i].key
		}
		res, err := incrScript.Run(ctx, s.c, keys, delta).Int64Slice()
		if err != nil {
			return out, fmt.Errorf("limit: redis charge: %w", err)
		}
		var missing []int
		for j, i := range todo {
			if res[2*j] == 0 {
				missing = append(missing, i)
				continue
			}
			v := res[2*j+1]
			out = crossings(out, &budgets[i], s.thresholds, v-delta, v, ps[i].start)
		}
		for _, i := range missing {
			if err := s.seedKey(ctx, &budgets[i], ps[i]); err != nil {
				return out, err
			}
		}
		todo = missing
	}
	return out, nil
}

var _ Spender = (*RedisSpender)(nil)

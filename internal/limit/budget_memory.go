package limit

import (
	"context"
	"sync"
	"time"
)

// MemorySpender is the Spender of a single process.
type MemorySpender struct {
	seed       Seeder
	thresholds []float64

	mu    sync.Mutex
	spent map[spendKey]*counter
}

// spendKey names one period's counter. The period name is part of it: a
// daily and a monthly budget of a scope can start at the same instant.
type spendKey struct {
	scope, period string
	start         int64
}

type counter struct {
	micros int64
	end    time.Time // the counter is dropped after its period ends
}

// NewMemorySpender makes a spender that seeds new period counters from seed
// (nil: from zero) and reports crossings of thresholds (fractions of each
// budget, e.g. 0.5, 0.8, 1.0).
func NewMemorySpender(seed Seeder, thresholds []float64) *MemorySpender {
	return &MemorySpender{seed: seed, thresholds: thresholds, spent: make(map[spendKey]*counter)}
}

// counter returns b's counter for the period holding now, seeding it on
// first use. The seeder runs without the lock (it may query a database);
// when two callers seed at once the first stored wins, and both add to it.
func (s *MemorySpender) counter(ctx context.Context, b *Budget, now time.Time) (*counter, time.Time, time.Time, error) {
	start, end, err := Period(b.Period, now)
	if err != nil {
		return nil, start, end, err
	}
	k := spendKey{b.Scope, b.Period, start.Unix()}
	s.mu.Lock()
	c := s.spent[k]
	s.mu.Unlock()
	if c != nil {
		return c, start, end, nil
	}
	v, err := seedMicros(ctx, s.seed, b.Scope, start)
	if err != nil {
		return nil, start, end, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.spent[k]; c == nil {
		s.evict(now)
		c = &counter{micros: v, end: end}
		s.spent[k] = c
	}
	return c, start, end, nil
}

// evict drops the counters of periods that are over; it runs when a
// counter is created, which is when a new period starts.
func (s *MemorySpender) evict(now time.Time) {
	for k, c := range s.spent {
		if !now.Before(c.end) {
			delete(s.spent, k)
		}
	}
}

// Check implements Spender.
func (s *MemorySpender) Check(ctx context.Context, budgets []Budget, now time.Time) (*Budget, float64, time.Time, error) {
	for i := range budgets {
		b := &budgets[i]
		c, _, end, err := s.counter(ctx, b, now)
		if err != nil {
			return nil, 0, time.Time{}, err
		}
		s.mu.Lock()
		v := c.micros
		s.mu.Unlock()
		if exceeded(b, v) {
			return b, fromMicros(v), end, nil
		}
	}
	return nil, 0, time.Time{}, nil
}

// Charge implements Spender.
func (s *MemorySpender) Charge(ctx context.Context, budgets []Budget, usd float64, now time.Time) ([]Crossing, error) {
	delta := toMicros(usd)
	if delta == 0 {
		return nil, nil
	}
	var out []Crossing
	for i := range budgets {
		b := &budgets[i]
		c, start, _, err := s.counter(ctx, b, now)
		if err != nil {
			return out, err
		}
		s.mu.Lock()
		c.micros += delta
		v := c.micros
		s.mu.Unlock()
		out = crossings(out, b, s.thresholds, v-delta, v, start)
	}
	return out, nil
}

var _ Spender = (*MemorySpender)(nil)

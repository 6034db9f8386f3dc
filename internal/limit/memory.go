package limit

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"time"
)

// nShards spreads scopes over locks so unrelated keys don't contend; a
// call locks the shards of all its rules, in index order (no deadlock),
// which keeps Admit all-or-nothing across rules.
const nShards = 32

// sweepEvery is how often (by the limiter's clock) a shard drops its idle
// scopes. A full bucket with no leases is the same as a missing one.
const sweepEvery = time.Minute

// Memory is the Limiter of a single process. The zero value is not ready;
// use NewMemory.
type Memory struct {
	// Now is the clock, replaceable in tests; it must be safe for
	// concurrent use.
	Now func() time.Time
	// LeaseTTL bounds how long a parallel slot stays held when its
	// Release never comes (a caller bug), so capacity cannot leak forever;
	// 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration

	shards [nShards]shard
}

type shard struct {
	mu    sync.Mutex
	m     map[string]*entry
	swept time.Time
}

// entry is the state of one scope.
type entry struct {
	req, tok bucket
	leases   map[string]time.Time // lease -> expiry
}

// bucket is a continuous token bucket, in units (see unit).
type bucket struct {
	level int64
	limit int64     // per minute at the last refill; 0 = never used, i.e. full
	ts    time.Time // level is as of ts
}

// NewMemory makes an empty in-process limiter on the real clock.
func NewMemory() *Memory {
	m := &Memory{Now: time.Now, LeaseTTL: DefaultLeaseTTL}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*entry)
	}
	return m
}

// refill brings the bucket to now under limit per minute. Time is counted
// in whole milliseconds and the remainder kept in ts, so frequent calls
// don't lose refill to rounding.
func (b *bucket) refill(limit int64, now time.Time) {
	capacity := limit * unit
	if b.limit == 0 {
		b.level, b.limit, b.ts = capacity, limit, now
		return
	}
	b.limit = limit
	if el := now.Sub(b.ts); el >= time.Millisecond {
		n := int64(el / time.Millisecond)
		if n >= waitMs(b.level, capacity, limit) {
			b.level, b.ts = capacity, now // also avoids overflow after long idling
		} else {
			b.level += n * limit
			b.ts = b.ts.Add(ms(n))
		}
	}
	if b.level > capacity { // the limit was lowered
		b.level = capacity
	}
}

func (b *bucket) full(now time.Time) bool {
	if b.limit == 0 {
		return true
	}
	b.refill(b.limit, now)
	return b.level >= b.limit*unit
}

func (b *bucket) window() Window {
	return Window{Limit: b.limit, Remaining: remaining(b.level), Reset: ms(waitMs(b.level, b.limit*unit, b.limit))}
}

// held counts the unexpired leases, dropping expired ones.
func (e *entry) held(now time.Time) int64 {
	for l, exp := range e.leases {
		if !now.Before(exp) {
			delete(e.leases, l)
		}
	}
	return int64(len(e.leases))
}

func shardOf(scope string) int {
	h := uint32(2166136261) // FNV-1a, inline so it doesn't allocate
	for i := 0; i < len(scope); i++ {
		h ^= uint32(scope[i])
		h *= 16777619
	}
	return int(h % nShards)
}

func (m *Memory) lock(rules []Rule) uint32 {
	var mask uint32
	for i := range rules {
		mask |= 1 << shardOf(rules[i].Scope)
	}
	for s := mask; s != 0; s &= s - 1 {
		m.shards[bits.TrailingZeros32(s)].mu.Lock()
	}
	return mask
}

func (m *Memory) unlock(mask uint32) {
	for s := mask; s != 0; s &= s - 1 {
		m.shards[bits.TrailingZeros32(s)].mu.Unlock()
	}
}

// entry returns scope's state, creating it; the shard must be locked.
func (m *Memory) entry(scope string) *entry {
	sh := &m.shards[shardOf(scope)]
	e := sh.m[scope]
	if e == nil {
		if sh.m == nil {
			sh.m = make(map[string]*entry)
		}
		e = &entry{}
		sh.m[scope] = e
	}
	return e
}

// sweep drops idle scopes of the locked shards, at most once per
// sweepEvery each.
func (m *Memory) sweep(mask uint32, now time.Time) {
	for s := mask; s != 0; s &= s - 1 {
		sh := &m.shards[bits.TrailingZeros32(s)]
		if now.Sub(sh.swept) < sweepEvery {
			continue
		}
		sh.swept = now
		for k, e := range sh.m {
			if e.held(now) == 0 && e.req.full(now) && e.tok.full(now) {
				delete(sh.m, k)
			}
		}
	}
}

func limited(r *Rule) bool { return r.RPM > 0 || r.TPM > 0 || r.MaxParallel > 0 }

// Admit implements Limiter.
func (m *Memory) Admit(ctx context.Context, rules []Rule, tokens int64, lease string) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("limit: memory admit: %w", err)
	}
	tokens = max(tokens, 0)
	now := m.Now()
	mask := m.lock(rules)
	defer m.unlock(mask)
	m.sweep(mask, now)

	ref := refusal{idx: -1}
	for i := range rules {
		r := &rules[i]
		if !limited(r) {
			continue
		}
		e := m.entry(r.Scope)
		if r.RPM > 0 {
			e.req.refill(r.RPM, now)
			if e.req.level < unit {
				ref.consider(i, 1, ms(waitMs(e.req.level, unit, r.RPM)))
			}
		}
		if r.TPM > 0 {
			e.tok.refill(r.TPM, now)
			// A request larger than the whole bucket passes when the bucket is
			// full and leaves it in debt, rather than never passing.
			if need := min(tokens, r.TPM) * unit; e.tok.level < need {
				ref.consider(i, 2, ms(waitMs(e.tok.level, need, r.TPM)))
			}
		}
		if r.MaxParallel > 0 {
			if _, mine := e.leases[lease]; !mine && e.held(now) >= r.MaxParallel {
				ref.consider(i, 3, ParallelRetry)
			}
		}
	}

	d := Decision{Allowed: ref.idx < 0}
	if !d.Allowed {
		d.Scope, d.Reason, d.RetryAfter = rules[ref.idx].Scope, reasons[ref.reason], ref.wait
	}
	for i := range rules {
		r := &rules[i]
		if !limited(r) {
			continue
		}
		e := m.entry(r.Scope)
		if d.Allowed {
			if r.RPM > 0 {
				e.req.level -= unit
			}
			if r.TPM > 0 {
				e.tok.level -= tokens * unit
			}
			if r.MaxParallel > 0 {
				if e.leases == nil {
					e.leases = make(map[string]time.Time)
				}
				e.leases[lease] = now.Add(leaseTTL(m.LeaseTTL))
			}
		}
		if r.RPM > 0 {
			d.Requests = tighter(d.Requests, e.req.window())
		}
		if r.TPM > 0 {
			d.Tokens = tighter(d.Tokens, e.tok.window())
		}
	}
	return d, nil
}

// Release implements Limiter.
func (m *Memory) Release(ctx context.Context, rules []Rule, lease string) error {
	mask := m.lock(rules)
	defer m.unlock(mask)
	for i := range rules {
		if rules[i].MaxParallel <= 0 {
			continue
		}
		if e := m.shards[shardOf(rules[i].Scope)].m[rules[i].Scope]; e != nil {
			delete(e.leases, lease)
		}
	}
	return nil
}

// Adjust implements Limiter. A refund never fills a bucket past its
// capacity.
func (m *Memory) Adjust(ctx context.Context, rules []Rule, tokens int64) error {
	if tokens == 0 {
		return nil
	}
	now := m.Now()
	mask := m.lock(rules)
	defer m.unlock(mask)
	for i := range rules {
		r := &rules[i]
		if r.TPM <= 0 {
			continue
		}
		e := m.entry(r.Scope)
		e.tok.refill(r.TPM, now)
		e.tok.level = min(e.tok.level-tokens*unit, r.TPM*unit)
	}
	return nil
}

var _ Limiter = (*Memory)(nil)

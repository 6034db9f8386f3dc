// Package limit enforces the gateway's rate limits and USD budgets.
//
// Rate limits are continuous token buckets, one per rule scope and
// dimension (requests per minute, tokens per minute), plus a count of
// requests in flight. Memory keeps them exact in one process; Redis keeps
// them exact across replicas with Lua scripts that check and take every
// rule of a request in one atomic step, timed by the Redis server's clock.
//
// Budgets count USD spend per calendar period in integer micro-dollars, so
// concurrent charges sum exactly and every alert threshold is crossed by
// exactly one charge; an Alerter posts those crossings to a webhook.
package limit

import (
	"context"
	"time"
)

// Rule is one bucket: its scope names what is limited, e.g. "key:key_ab12",
// "team:ml", "model:gpt-4o", "user:alice". The rules of one call must have
// distinct scopes.
type Rule struct {
	Scope       string
	RPM         int64 // requests per minute, 0 = no request limit
	TPM         int64 // tokens per minute, 0 = no token limit
	MaxParallel int64 // concurrent requests, 0 = no limit
}

// Window is the state of one bucket for x-ratelimit-* headers.
type Window struct {
	Limit     int64 // 0 = not set
	Remaining int64
	Reset     time.Duration // until the bucket is full again
}

// Decision is the outcome of Admit.
type Decision struct {
	Allowed bool
	// Scope is the rule that refused, when !Allowed. When several refuse,
	// it is the one that frees last, so RetryAfter is honest.
	Scope string
	// Reason is "requests", "tokens" or "parallel", when !Allowed.
	Reason string
	// RetryAfter is when the refused request could pass, when !Allowed; for
	// "parallel" it is a fixed hint (ParallelRetry), as nobody knows when a
	// slot frees.
	RetryAfter time.Duration
	Requests   Window // the tightest rule with an RPM (lowest remaining)
	Tokens     Window // the tightest rule with a TPM (lowest remaining)
}

// Limiter admits requests against rules.
type Limiter interface {
	// Admit checks every rule and, only when all allow, takes one request
	// and tokens tokens from each, and one parallel slot held under lease (a
	// unique id per request). All or nothing, atomic.
	Admit(ctx context.Context, rules []Rule, tokens int64, lease string) (Decision, error)
	// Release frees the parallel slots taken under lease (no-op for rules
	// without MaxParallel).
	Release(ctx context.Context, rules []Rule, lease string) error
	// Adjust charges (positive) or refunds (negative) tokens once the real
	// usage is known; it may put a bucket into debt.
	Adjust(ctx context.Context, rules []Rule, tokens int64) error
}

// Refusal reasons.
const (
	ReasonRequests = "requests"
	ReasonTokens   = "tokens"
	ReasonParallel = "parallel"
)

// ParallelRetry is the RetryAfter hint for a request refused for lack of a
// parallel slot.
const ParallelRetry = time.Second

// Bucket arithmetic, shared by Memory and mirrored by the Lua scripts.
//
// A bucket with a limit of L per minute holds L*unit units and refills L
// units per millisecond, so levels stay integers (exact, also as Lua
// doubles up to 2^53, i.e. limits up to 1.5e11 per minute) and one request
// or token costs unit units.
const unit = 60000

// reasons indexes the reason codes returned by the admit script.
var reasons = [...]string{1: ReasonRequests, 2: ReasonTokens, 3: ReasonParallel}

// waitMs is how many milliseconds a bucket refilling rate units per ms
// needs to go from level to need units.
func waitMs(level, need, rate int64) int64 {
	if level >= need || rate <= 0 {
		return 0
	}
	return (need - level + rate - 1) / rate
}

// remaining is the whole requests or tokens a bucket level holds, never
// negative (a bucket in debt has none).
func remaining(level int64) int64 {
	if level <= 0 {
		return 0
	}
	return level / unit
}

// tighter merges the window w of one rule into the tightest so far.
func tighter(best, w Window) Window {
	if best.Limit == 0 || w.Remaining < best.Remaining ||
		(w.Remaining == best.Remaining && w.Reset > best.Reset) {
		return w
	}
	return best
}

// refusal keeps the refusal that frees last: a request refused by several
// rules passes only when all of them allow it.
type refusal struct {
	idx    int // rule index, -1 when none
	reason int // index into reasons
	wait   time.Duration
}

func (r *refusal) consider(idx, reason int, wait time.Duration) {
	if r.idx < 0 || wait > r.wait {
		*r = refusal{idx: idx, reason: reason, wait: wait}
	}
}

// DefaultLeaseTTL is how long a parallel slot is held without a Release
// unless the limiter says otherwise.
const DefaultLeaseTTL = 10 * time.Minute

func leaseTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultLeaseTTL
	}
	return d
}

// ms converts whole milliseconds to a Duration.
func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

package limit

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Budget caps what a scope may spend in USD per calendar period.
type Budget struct {
	Scope  string
	USD    float64
	Period string // "daily", "weekly" or "monthly"; UTC calendar periods, weeks start Monday
}

// Crossing reports that a charge took a budget's spend past a threshold.
type Crossing struct {
	Budget      Budget
	Threshold   float64 // fraction of Budget.USD, e.g. 0.8
	SpentUSD    float64 // spend in the period after the charge
	PeriodStart time.Time
}

// Seeder loads what a scope already spent since a time (from the usage
// store). It is called the first time a period's counter is touched (after
// a restart, or when Redis lost it), so it should not count charges that
// will also be made through the Spender.
type Seeder func(ctx context.Context, scope string, since time.Time) (float64, error)

// Spender tracks spend against budgets.
type Spender interface {
	// Check returns the first budget whose spend in its current period has
	// reached USD (nil when none), with its spend and reset time.
	Check(ctx context.Context, budgets []Budget, now time.Time) (exceeded *Budget, spentUSD float64, resetAt time.Time, err error)
	// Charge adds usd to each budget's current period and returns the
	// thresholds this charge crossed; exactly one caller across all
	// replicas sees each crossing.
	Charge(ctx context.Context, budgets []Budget, usd float64, now time.Time) ([]Crossing, error)
}

// Period returns the UTC calendar period ("daily", "weekly" starting
// Monday, or "monthly") that holds now.
func Period(period string, now time.Time) (start, end time.Time, err error) {
	y, m, d := now.UTC().Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	switch period {
	case "daily":
		return day, day.AddDate(0, 0, 1), nil
	case "weekly":
		start = day.AddDate(0, 0, -(int(day.Weekday())+6)%7) // Sunday is 6 days after Monday
		return start, start.AddDate(0, 0, 7), nil
	case "monthly":
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("limit: unknown budget period %q", period)
}

// Money is counted in integer micro-dollars so that sums are exact.
const microsPerUSD = 1e6

func toMicros(usd float64) int64           { return int64(math.Round(usd * microsPerUSD)) }
func fromMicros(m int64) float64           { return float64(m) / microsPerUSD }
func capMicros(b *Budget) int64            { return toMicros(b.USD) }
func exceeded(b *Budget, spent int64) bool { return spent >= capMicros(b) }

// crossings lists the thresholds of b that a charge moving its spend from
// old to new crossed: old < t*cap <= new. Spends move by disjoint
// intervals, so each threshold is crossed by one charge only.
func crossings(out []Crossing, b *Budget, thresholds []float64, old, new int64, start time.Time) []Crossing {
	c := capMicros(b)
	for _, t := range thresholds {
		at := int64(math.Round(t * float64(c)))
		if old < at && at <= new {
			out = append(out, Crossing{Budget: *b, Threshold: t, SpentUSD: fromMicros(new), PeriodStart: start})
		}
	}
	return out
}

// seedMicros asks seed (nil: nothing spent) for the micro-dollars scope spent
// since start.
func seedMicros(ctx context.Context, seed Seeder, scope string, since time.Time) (int64, error) {
	if seed == nil {
		return 0, nil
	}
	usd, err := seed(ctx, scope, since)
	if err != nil {
		return 0, fmt.Errorf("limit: seed spend of %s: %w", scope, err)
	}
	return toMicros(usd), nil
}

package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest sample such that at least p% of the
// samples are at or below it. It returns 0 for no samples. sorted must be in
// ascending order; the result is always one of the samples, never an
// interpolation, so p99.9 of 1,000 samples is the largest one.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The epsilon keeps float error from pushing an exact rank up one
	// (99.9/100*1000 is 999.0000000000001).
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Latency summarises a latency distribution in milliseconds. Gateway minus
// direct of two Latency values is the overhead (see [Latency.Sub]).
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// Summarize sorts samples in place and returns their percentiles in
// milliseconds; no samples give the zero Latency.
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	return Latency{
		P50:  ms(Percentile(samples, 50)),
		P90:  ms(Percentile(samples, 90)),
		P99:  ms(Percentile(samples, 99)),
		P999: ms(Percentile(samples, 99.9)),
		Mean: ms(sum / time.Duration(len(samples))),
		Max:  ms(samples[len(samples)-1]),
	}
}

// Sub returns l - o field by field: the gateway's overhead when l is the
// gateway's latency and o the direct one. Percentiles of two distributions do
// not subtract into a distribution; each difference is what that percentile
// moved by.
func (l Latency) Sub(o Latency) Latency {
	return Latency{
		P50:  l.P50 - o.P50,
		P90:  l.P90 - o.P90,
		P99:  l.P99 - o.P99,
		P999: l.P999 - o.P999,
		Mean: l.Mean - o.Mean,
		Max:  l.Max - o.Max,
	}
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

// round3 keeps three decimals (microseconds, for milliseconds) so the JSON
// does not pretend to nanosecond precision.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

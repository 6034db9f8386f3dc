package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1ms … 100ms
	}
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", []time.Duration{7}, 50, 7},
		{"one sample p99.9", []time.Duration{7}, 99.9, 7},
		{"two samples p50 is the lower", []time.Duration{1, 2}, 50, 1},
		{"two samples p51 is the upper", []time.Duration{1, 2}, 51, 2},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p90", hundred, 90, 90 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p99.9 is the max", hundred, 99.9, 100 * time.Millisecond},
		{"hundred p100", hundred, 100, 100 * time.Millisecond},
		{"hundred p0 is the min", hundred, 0, time.Millisecond},
		{"thousand p99.9", thousand, 99.9, 999},
		{"thousand p99", thousand, 99, 990},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%d samples, %g) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsAndSubtracts(t *testing.T) {
	samples := []time.Duration{4 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	got := Summarize(samples)
	want := Latency{P50: 2, P90: 4, P99: 4, P999: 4, Mean: 2.5, Max: 4}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Latency{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", got)
	}
	base := Latency{P50: 1, P90: 1.5, P99: 2, P999: 3, Mean: 1.1, Max: 4}
	if d := want.Sub(base); d.P50 != 1 || d.P99 != 2 || d.P999 != 1 || d.Max != 0 {
		t.Errorf("Sub = %+v", d)
	}
}

func TestSummarizeMicrosecondPrecision(t *testing.T) {
	got := Summarize([]time.Duration{1234567 * time.Nanosecond})
	if got.P50 != 1.235 {
		t.Errorf("P50 of 1.234567ms = %v, want 1.235 (three decimals)", got.P50)
	}
}

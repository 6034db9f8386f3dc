package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestLineMatchesSlog: a line built with LineWriter is byte for byte what
// slog's text handler writes for the same record.
func TestLineMatchesSlog(t *testing.T) {
	strs := []string{"", "req_01a2133667b6bf5f16107f97b926c2d4", "/v1/chat/completions", "a b", "a=b", `a"b`, `a\b`,
		"é", "x\u00a0y", "\x7f", "\x01", "\xff", "tab\there", "line\nbreak", "gpt-4o-mini", "emulator", "ünïcødé", "日本"}
	durs := []time.Duration{0, 1, 999, time.Microsecond, 1500, 999999, time.Millisecond, 12345678, time.Second,
		1500 * time.Millisecond, 61 * time.Second, 3601*time.Second + 5, 100 * time.Hour, -1, -1500 * time.Millisecond,
		math.MinInt64, math.MaxInt64}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		durs = append(durs, time.Duration(r.Int64N(int64(10*time.Minute))), time.Duration(r.Int64N(int64(time.Millisecond))))
	}
	locs := []*time.Location{time.UTC, time.FixedZone("X", 5*3600+1800), time.FixedZone("Y", -7*3600)}
	var want, got bytes.Buffer
	h := slog.NewTextHandler(&want, nil)
	lw := NewLineWriter(&got)
	for i, d := range durs {
		ts := time.Unix(1795616345+int64(i), int64(r.IntN(1e9))).In(locs[i%len(locs)])
		s1, s2 := strs[i%len(strs)], strs[(i*7+3)%len(strs)]
		n := r.Int64() - math.MaxInt64/2
		rec := slog.NewRecord(ts, slog.LevelInfo, s2, 0)
		rec.AddAttrs(slog.String("request_id", s1), slog.Int64("status", n), slog.Duration("latency", d), slog.String("key", s2))
		want.Reset()
		if err := h.Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		got.Reset()
		l := lw.Begin(ts, s2)
		l.Str("request_id", s1).Int("status", n).Dur("latency", d).Str("key", s2)
		if err := lw.End(l); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("line\n%q\nslog\n%q", got.String(), want.String())
		}
	}
}

func BenchmarkRequestLine(b *testing.B) {
	lw := NewLineWriter(discard{})
	logger := slog.New(slog.NewTextHandler(discard{}, nil))
	now := time.Now()
	b.Run("slog", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logger.LogAttrs(context.Background(), slog.LevelInfo, "request",
				slog.String("request_id", "req_01a2133667b6bf5f16107f97b926c2d4"), slog.String("method", "POST"),
				slog.String("path", "/v1/chat/completions"), slog.Int("status", 200), slog.Duration("latency", 1234567),
				slog.String("key", "bench"), slog.String("model", "gpt-4o-mini"), slog.String("provider", "emulator"),
				slog.String("upstream_model", "gpt-4o-mini"), slog.Int64("prompt_tokens", 1), slog.Int64("completion_tokens", 8))
		}
	})
	b.Run("line", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l := lw.Begin(now, "request")
			l.Str("request_id", "req_01a2133667b6bf5f16107f97b926c2d4").Str("method", "POST").
				Str("path", "/v1/chat/completions").Int("status", 200).Dur("latency", 1234567).
				Str("key", "bench").Str("model", "gpt-4o-mini").Str("provider", "emulator").
				Str("upstream_model", "gpt-4o-mini").Int("prompt_tokens", 1).Int("completion_tokens", 8)
			lw.End(l)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

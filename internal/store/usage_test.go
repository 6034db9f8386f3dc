package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// usageFixture spans two days, two teams, three keys (one without a name),
// two models, two providers and two users; one record is an error.
func usageFixture() []UsageRecord {
	day1, day2 := ts(0), ts(24*time.Hour)
	return []UsageRecord{
		{RequestID: "r1", Time: day1, KeyID: "key_a", KeyName: "alpha", Team: "search", User: "ana",
			Endpoint: "/v1/chat/completions", ModelAsked: "gpt", Provider: "openai", ModelUsed: "gpt-4o",
			InputTokens: 10, OutputTokens: 20, CachedTokens: 1, CostUSD: 0.5, Status: 200, Attempts: 1,
			Latency: 120 * time.Millisecond, TTFT: 30 * time.Millisecond, Stream: true},
		{RequestID: "r2", Time: day1.Add(time.Hour), KeyID: "key_a", KeyName: "alpha", Team: "search", User: "bob",
			ModelAsked: "claude", Provider: "anthropic", InputTokens: 5, OutputTokens: 5, CostUSD: 0.25,
			Status: 429, ErrorClass: "rate_limited", Attempts: 3},
		{RequestID: "r3", Time: day2, KeyID: "key_b", KeyName: "beta", Team: "ads", User: "ana",
			ModelAsked: "gpt", Provider: "openai", InputTokens: 100, OutputTokens: 50, CachedTokens: 40,
			CostUSD: 1.0, Status: 200, CacheHit: true},
		{RequestID: "r4", Time: day2.Add(time.Hour), KeyID: "key_c", Team: "ads",
			ModelAsked: "gpt", Provider: "openai", InputTokens: 1, OutputTokens: 1, CostUSD: 0.125, Status: 200},
	}
}

func insertFixture(t *testing.T, s *sqlStore) {
	t.Helper()
	if err := s.InsertUsage(ctx(t), usageFixture()); err != nil {
		t.Fatalf("InsertUsage: %v", err)
	}
}

func TestInsertUsageIdempotent(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		recs := usageFixture()
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatalf("first InsertUsage: %v", err)
		}
		// A replay of the whole batch, plus a batch repeating a request ID
		// within itself, must not count anything twice.
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatalf("replayed InsertUsage: %v", err)
		}
		dup := UsageRecord{RequestID: "r5", Time: ts(0), CostUSD: 2}
		if err := s.InsertUsage(c, []UsageRecord{dup, dup, recs[0]}); err != nil {
			t.Fatalf("InsertUsage with duplicates: %v", err)
		}
		if err := s.InsertUsage(c, nil); err != nil {
			t.Fatalf("InsertUsage(nil): %v", err)
		}
		var n int64
		if err := s.queryRow(c, `SELECT COUNT(*) FROM usage`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 5 {
			t.Errorf("stored %d records, want 5", n)
		}
		// The stored columns are what the record said, day in UTC.
		var (
			day                   string
			tsUS, latUS, ttftUS   int64
			stream, cacheHit, att int64
		)
		if err := s.queryRow(c, `SELECT day, ts, latency_us, ttft_us, stream, cache_hit, attempts FROM usage WHERE request_id = ?`, "r1").
			Scan(&day, &tsUS, &latUS, &ttftUS, &stream, &cacheHit, &att); err != nil {
			t.Fatal(err)
		}
		got := []int64{tsUS, latUS, ttftUS, stream, cacheHit, att}
		want := []int64{ts(0).UnixMicro(), 120000, 30000, 1, 0, 1}
		if day != "2025-03-14" || !cmp.Equal(got, want) {
			t.Errorf("stored r1 = %s %v, want 2025-03-14 %v", day, got, want)
		}
		if err := s.InsertUsage(c, []UsageRecord{{Time: ts(0)}}); err == nil {
			t.Error("InsertUsage without request id succeeded")
		}
	})
}

// TestInsertUsageLargeBatch crosses the multi-row chunk size with a tail.
func TestInsertUsageLargeBatch(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		recs := benchRecords("big", 0, 3*usageChunk+7)
		if err := s.InsertUsage(c, recs); err != nil {
			t.Fatal(err)
		}
		rows, err := s.AggregateUsage(c, UsageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Requests != int64(len(recs)) {
			t.Errorf("aggregate = %+v, want %d requests", rows, len(recs))
		}
	})
}

// TestInsertUsageConcurrent inserts overlapping batches from several
// goroutines at once, so on several connections: a statement kept across
// transactions (SQLite) must work on each, and a replay must still be
// skipped whichever connection it runs on.
func TestInsertUsageConcurrent(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		c := ctx(t)
		const writers, batch = 4, 2*usageChunk + 3
		recs := benchRecords("conc", 0, (writers+1)*batch)
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			// Writer w inserts batches w and w+1: every batch but the
			// first and the last is written twice, concurrently.
			wg.Go(func() {
				for _, b := range []int{w, w + 1} {
					if err := s.InsertUsage(c, recs[b*batch:(b+1)*batch]); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := s.queryRow(c, `SELECT COUNT(*) FROM usage`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != int64(len(recs)) {
			t.Errorf("stored %d records, want %d", n, len(recs))
		}
	})
}

func TestAggregateUsage(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		insertFixture(t, s)
		day2 := ts(24 * time.Hour)
		tests := []struct {
			name string
			q    UsageQuery
			want []UsageRow
		}{
			{"all", UsageQuery{}, []UsageRow{
				{Group: "", Requests: 4, Errors: 1, InputTokens: 116, OutputTokens: 76, CachedTokens: 41, CostUSD: 1.875}}},
			{"team", UsageQuery{GroupBy: "team"}, []UsageRow{
				{Group: "ads", Requests: 2, InputTokens: 101, OutputTokens: 51, CachedTokens: 40, CostUSD: 1.125},
				{Group: "search", Requests: 2, Errors: 1, InputTokens: 15, OutputTokens: 25, CachedTokens: 1, CostUSD: 0.75}}},
			{"key: name else id", UsageQuery{GroupBy: "key"}, []UsageRow{
				{Group: "alpha", Requests: 2, Errors: 1, InputTokens: 15, OutputTokens: 25, CachedTokens: 1, CostUSD: 0.75},
				{Group: "beta", Requests: 1, InputTokens: 100, OutputTokens: 50, CachedTokens: 40, CostUSD: 1.0},
				{Group: "key_c", Requests: 1, InputTokens: 1, OutputTokens: 1, CostUSD: 0.125}}},
			{"model", UsageQuery{GroupBy: "model"}, []UsageRow{
				{Group: "claude", Requests: 1, Errors: 1, InputTokens: 5, OutputTokens: 5, CostUSD: 0.25},
				{Group: "gpt", Requests: 3, InputTokens: 111, OutputTokens: 71, CachedTokens: 41, CostUSD: 1.625}}},
			{"provider", UsageQuery{GroupBy: "provider"}, []UsageRow{
				{Group: "anthropic", Requests: 1, Errors: 1, InputTokens: 5, OutputTokens: 5, CostUSD: 0.25},
				{Group: "openai", Requests: 3, InputTokens: 111, OutputTokens: 71, CachedTokens: 41, CostUSD: 1.625}}},
			{"user", UsageQuery{GroupBy: "user"}, []UsageRow{
				{Group: "", Requests: 1, InputTokens: 1, OutputTokens: 1, CostUSD: 0.125},
				{Group: "ana", Requests: 2, InputTokens: 110, OutputTokens: 70, CachedTokens: 41, CostUSD: 1.5},
				{Group: "bob", Requests: 1, Errors: 1, InputTokens: 5, OutputTokens: 5, CostUSD: 0.25}}},
			{"day", UsageQuery{GroupBy: "day"}, []UsageRow{
				{Group: "2025-03-14", Requests: 2, Errors: 1, InputTokens: 15, OutputTokens: 25, CachedTokens: 1, CostUSD: 0.75},
				{Group: "2025-03-15", Requests: 2, InputTokens: 101, OutputTokens: 51, CachedTokens: 40, CostUSD: 1.125}}},
			{"from inclusive", UsageQuery{GroupBy: "day", From: day2}, []UsageRow{
				{Group: "2025-03-15", Requests: 2, InputTokens: 101, OutputTokens: 51, CachedTokens: 40, CostUSD: 1.125}}},
			{"to exclusive", UsageQuery{GroupBy: "day", To: day2}, []UsageRow{
				{Group: "2025-03-14", Requests: 2, Errors: 1, InputTokens: 15, OutputTokens: 25, CachedTokens: 1, CostUSD: 0.75}}},
			{"from and to", UsageQuery{GroupBy: "key", From: ts(time.Hour), To: day2.Add(time.Hour)}, []UsageRow{
				{Group: "alpha", Requests: 1, Errors: 1, InputTokens: 5, OutputTokens: 5, CostUSD: 0.25},
				{Group: "beta", Requests: 1, InputTokens: 100, OutputTokens: 50, CachedTokens: 40, CostUSD: 1.0}}},
			{"team filter", UsageQuery{GroupBy: "model", Team: "search"}, []UsageRow{
				{Group: "claude", Requests: 1, Errors: 1, InputTokens: 5, OutputTokens: 5, CostUSD: 0.25},
				{Group: "gpt", Requests: 1, InputTokens: 10, OutputTokens: 20, CachedTokens: 1, CostUSD: 0.5}}},
			{"key filter", UsageQuery{GroupBy: "team", KeyID: "key_c"}, []UsageRow{
				{Group: "ads", Requests: 1, InputTokens: 1, OutputTokens: 1, CostUSD: 0.125}}},
			{"nothing matches, no group", UsageQuery{From: ts(365 * 24 * time.Hour)}, []UsageRow{{Group: ""}}},
			{"nothing matches, grouped", UsageQuery{GroupBy: "team", Team: "nope"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.AggregateUsage(ctx(t), tt.q)
				if err != nil {
					t.Fatalf("AggregateUsage: %v", err)
				}
				if d := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			})
		}
		_, err := s.AggregateUsage(ctx(t), UsageQuery{GroupBy: "color"})
		if err == nil || !strings.Contains(err.Error(), `"provider"`) {
			t.Errorf("unknown group_by: %v, want an error naming the valid values", err)
		}
	})
}

func TestSpend(t *testing.T) {
	withStore(t, func(t *testing.T, s *sqlStore) {
		insertFixture(t, s)
		tests := []struct {
			name        string
			keyID, team string
			since       time.Time
			want        float64
		}{
			{"everything", "", "", time.Time{}, 1.875},
			{"key", "key_a", "", time.Time{}, 0.75},
			{"key since (inclusive)", "key_a", "", ts(time.Hour), 0.25},
			{"team", "", "ads", time.Time{}, 1.125},
			{"team since", "", "ads", ts(24*time.Hour + time.Minute), 0.125},
			{"key and team", "key_a", "ads", time.Time{}, 0},
			{"unknown key", "key_nope", "", time.Time{}, 0},
			{"future", "", "", ts(1000 * time.Hour), 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Spend(ctx(t), tt.keyID, tt.team, tt.since)
				if err != nil {
					t.Fatalf("Spend: %v", err)
				}
				if math.Abs(got-tt.want) > 1e-9 {
					t.Errorf("Spend = %v, want %v", got, tt.want)
				}
			})
		}
	})
}

// benchRecords makes n distinct records whose IDs start with prefix.
func benchRecords(prefix string, start, n int) []UsageRecord {
	recs := make([]UsageRecord, n)
	for i := range recs {
		recs[i] = UsageRecord{
			// As the gateway makes them: the time first (so the primary key
			// grows at its end), then random bits.
			RequestID: fmt.Sprintf("%s-%012d-%016x", prefix, start+i, rand.Uint64()), Time: ts(time.Duration(start+i) * time.Second),
			PromptHash: fmt.Sprintf("%064x", start+i), ResponseHash: fmt.Sprintf("%064x", start+i+1),
			KeyID: "key_bench", KeyName: "bench", Team: "t", User: "u", Endpoint: "/v1/chat/completions",
			ModelAsked: "gpt", Provider: "openai", ModelUsed: "gpt-4o", InputTokens: 100, OutputTokens: 200,
			CostUSD: 0.001, Latency: time.Second, TTFT: 100 * time.Millisecond, Status: 200, Attempts: 1,
		}
	}
	return recs
}

// BenchmarkInsertUsage measures one batch of 500 records on SQLite, the
// size the usage writer flushes.
func BenchmarkInsertUsage(b *testing.B) {
	const batch = 500
	s, err := Open(b.Context(), "sqlite", filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	i := 0
	for b.Loop() {
		b.StopTimer()
		recs := benchRecords("b", i*batch, batch)
		i++
		b.StartTimer()
		if err := s.InsertUsage(b.Context(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*batch), "ns/record")
}

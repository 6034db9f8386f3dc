package limit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/switchboard-gw/switchboard/internal/testenv"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPeriod(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	for _, tc := range []struct {
		period, now, start, end string
	}{
		{"daily", "2026-03-04T15:04:05Z", "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z"},
		{"daily", "2026-03-04T00:00:00Z", "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z"},
		{"daily", "2026-03-04T23:59:59.999999999Z", "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z"},
		{"daily", "2026-12-31T12:00:00Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"weekly", "2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"}, // Monday
		{"weekly", "2026-03-04T10:00:00Z", "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"}, // Wednesday
		{"weekly", "2026-03-08T23:59:59Z", "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"}, // Sunday
		{"weekly", "2027-01-01T08:00:00Z", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"}, // across a year
		{"monthly", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"monthly", "2026-01-31T23:00:00Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
		{"monthly", "2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"}, // leap year
		{"monthly", "2026-12-15T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		start, end, err := Period(tc.period, utc(tc.now))
		if err != nil || !start.Equal(utc(tc.start)) || !end.Equal(utc(tc.end)) {
			t.Errorf("Period(%s, %s) = %v, %v, %v; want %s, %s", tc.period, tc.now, start, end, err, tc.start, tc.end)
		}
	}
	// Periods are UTC whatever the zone of now: 08:00 on the 1st in Tokyo is
	// still the last day of the previous month.
	start, _, err := Period("monthly", time.Date(2026, 4, 1, 8, 0, 0, 0, tokyo))
	if err != nil || !start.Equal(utc("2026-03-01T00:00:00Z")) || start.Location() != time.UTC {
		t.Errorf("monthly in Tokyo = %v, %v; want 2026-03-01 UTC", start, err)
	}
	if _, _, err := Period("hourly", time.Now()); err == nil {
		t.Error("unknown period accepted")
	}
}

// seeder records its calls and returns spend per scope.
type seeder struct {
	mu    sync.Mutex
	spent map[string]float64
	calls []string
	err   error
}

func (s *seeder) seed(_ context.Context, scope string, since time.Time) (float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, scope+"@"+since.UTC().Format(time.DateOnly))
	return s.spent[scope], s.err
}

var thresholds = []float64{0.5, 0.8, 1}

// spendNow is the time the spender tests charge at: Redis expires counters
// after their period by its own clock, so it must be the real time.
func spendNow() time.Time { return time.Now().UTC() }

func periodStart(t *testing.T, period string, now time.Time) time.Time {
	t.Helper()
	start, _, err := Period(period, now)
	if err != nil {
		t.Fatal(err)
	}
	return start
}

func testSpender(t *testing.T, newSpender func(Seeder, []float64) Spender) {
	ctx := context.Background()
	now := spendNow()
	day := periodStart(t, "daily", now)
	t.Run("CrossingsAndCheck", func(t *testing.T) {
		s := newSpender(nil, thresholds)
		b := []Budget{{Scope: "team:ml", USD: 10, Period: "daily"}}
		var got []float64
		for _, usd := range []float64{4, 0.99, 0.01, 3, 1.5, 0.5, 7} {
			cs, err := s.Charge(ctx, b, usd, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				got = append(got, c.Threshold)
				if c.Budget != b[0] || !c.PeriodStart.Equal(day) {
					t.Errorf("crossing = %+v", c)
				}
			}
			if usd == 0.01 && (len(cs) != 1 || cs[0].SpentUSD != 5) {
				t.Errorf("crossing 0.5 = %+v, want spent 5", cs)
			}
			if ex, _, _, _ := s.Check(ctx, b, now); (ex != nil) != (usd == 0.5 || usd == 7) {
				t.Errorf("after charging %v: exceeded = %v", usd, ex)
			}
		}
		if diff := cmp.Diff([]float64{0.5, 0.8, 1}, got); diff != "" {
			t.Errorf("crossings (-want +got):\n%s", diff)
		}
		ex, spent, reset, err := s.Check(ctx, b, now)
		if err != nil || ex == nil || *ex != b[0] || spent != 17 || !reset.Equal(day.AddDate(0, 0, 1)) {
			t.Errorf("Check = %v, %v, %v, %v", ex, spent, reset, err)
		}
		// The next day starts again from zero.
		if ex, _, _, _ := s.Check(ctx, b, now.Add(24*time.Hour)); ex != nil {
			t.Errorf("next day exceeded = %+v", ex)
		}
	})
	t.Run("Seeding", func(t *testing.T) {
		sd := &seeder{spent: map[string]float64{"key:a": 7.5}}
		s := newSpender(sd.seed, thresholds)
		daily := Budget{Scope: "key:a", USD: 10, Period: "daily"}
		monthly := Budget{Scope: "key:a", USD: 100, Period: "monthly"}
		cs, err := s.Charge(ctx, []Budget{daily, monthly}, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		// 7.5 seeded is past 0.5 already: only 0.8 is crossed by this charge.
		want := []Crossing{{Budget: daily, Threshold: 0.8, SpentUSD: 8.5, PeriodStart: day}}
		if diff := cmp.Diff(want, cs); diff != "" {
			t.Errorf("crossings (-want +got):\n%s", diff)
		}
		if _, err := s.Charge(ctx, []Budget{daily, monthly}, 1, now); err != nil {
			t.Fatal(err)
		}
		// Each period's counter is seeded once, from its own start.
		wantCalls := []string{"key:a@" + day.Format(time.DateOnly), "key:a@" + periodStart(t, "monthly", now).Format(time.DateOnly)}
		if diff := cmp.Diff(wantCalls, sd.calls); diff != "" {
			t.Errorf("seeder calls (-want +got):\n%s", diff)
		}
		ex, spent, _, err := s.Check(ctx, []Budget{monthly, {Scope: "key:a", USD: 7.5, Period: "weekly"}}, now)
		if err != nil || ex == nil || ex.Period != "weekly" || spent != 7.5 {
			t.Errorf("Check = %+v, %v, %v; want weekly seeded at 7.5", ex, spent, err)
		}
	})
	t.Run("SeederError", func(t *testing.T) {
		boom := errors.New("boom")
		s := newSpender((&seeder{err: boom}).seed, thresholds)
		b := []Budget{{Scope: "key:e", USD: 1, Period: "daily"}}
		if _, err := s.Charge(ctx, b, 1, now); !errors.Is(err, boom) {
			t.Errorf("Charge err = %v", err)
		}
		if _, _, _, err := s.Check(ctx, b, now); !errors.Is(err, boom) {
			t.Errorf("Check err = %v", err)
		}
	})
	t.Run("BadPeriod", func(t *testing.T) {
		s := newSpender(nil, thresholds)
		if _, err := s.Charge(ctx, []Budget{{Scope: "x", USD: 1, Period: "yearly"}}, 1, now); err == nil {
			t.Error("Charge accepted an unknown period")
		}
	})
}

// testSpendersConcurrent charges from many goroutines over spenders and
// checks the sum is exact and each crossing was seen once.
func testSpendersConcurrent(t *testing.T, ss []Spender) {
	ctx := context.Background()
	now := spendNow()
	b := []Budget{{Scope: "team:conc", USD: 3, Period: "monthly"}}
	var mu sync.Mutex
	var seen []float64
	var errs atomic.Int64
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for range 20 {
				cs, err := ss[g%len(ss)].Charge(ctx, b, 0.01, now) // 400 cents
				if err != nil {
					errs.Add(1)
				}
				mu.Lock()
				for _, c := range cs {
					seen = append(seen, c.Threshold)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d Charge errors", errs.Load())
	}
	sort.Float64s(seen)
	if diff := cmp.Diff([]float64{0.5, 0.8, 1}, seen); diff != "" {
		t.Errorf("crossings (-want +got):\n%s", diff)
	}
	_, spent, _, err := ss[0].Check(ctx, b, now)
	if err != nil || spent != 4 {
		t.Errorf("spent = %v, %v; want exactly 4", spent, err)
	}
}

func TestMemorySpender(t *testing.T) {
	testSpender(t, func(s Seeder, th []float64) Spender { return NewMemorySpender(s, th) })
}

func TestMemorySpenderConcurrent(t *testing.T) {
	testSpendersConcurrent(t, []Spender{NewMemorySpender(nil, thresholds)})
}

func TestRedisSpender(t *testing.T) {
	c, prefix := testenv.Redis(t)
	n := 0
	testSpender(t, func(s Seeder, th []float64) Spender {
		n++ // a fresh namespace per subtest
		return NewRedisSpender(c, fmt.Sprint(prefix, n, ":"), s, th)
	})
}

func TestRedisSpenderReplicas(t *testing.T) {
	c, prefix := testenv.Redis(t)
	sd := &seeder{}
	a := NewRedisSpender(c, prefix, sd.seed, thresholds)
	b := NewRedisSpender(secondClient(t), prefix, sd.seed, thresholds)
	testSpendersConcurrent(t, []Spender{a, b})
	// The counter is in micro-dollars and expires a day after the month.
	start, end, _ := Period("monthly", spendNow())
	key := prefix + "spend:team:conc:monthly:" + fmt.Sprint(start.Unix())
	ctx := context.Background()
	if v, err := c.Get(ctx, key).Int64(); err != nil || v != 4_000_000 {
		t.Errorf("counter = %v, %v; want 4000000", v, err)
	}
	if exp := c.ExpireTime(ctx, key).Val(); exp != time.Duration(end.AddDate(0, 0, 1).Unix())*time.Second {
		t.Errorf("expire time = %v", exp)
	}
}

func TestRedisSpenderReseedsLostCounter(t *testing.T) {
	c, prefix := testenv.Redis(t)
	ctx := context.Background()
	now := spendNow()
	sd := &seeder{spent: map[string]float64{"key:lost": 2}}
	s := NewRedisSpender(c, prefix, sd.seed, thresholds)
	b := []Budget{{Scope: "key:lost", USD: 10, Period: "daily"}}
	if _, err := s.Charge(ctx, b, 1, now); err != nil {
		t.Fatal(err)
	}
	// Redis lost the counter (flush, failover): the next charge reseeds.
	sd.spent["key:lost"] = 6
	c.Del(ctx, prefix+"spend:key:lost:daily:"+fmt.Sprint(periodStart(t, "daily", now).Unix()))
	cs, err := s.Charge(ctx, b, 1, now)
	if err != nil || len(cs) != 0 {
		t.Fatalf("Charge = %+v, %v", cs, err)
	}
	if _, spent, _, _ := s.Check(ctx, []Budget{{Scope: "key:lost", USD: 1, Period: "daily"}}, now); spent != 7 {
		t.Errorf("spent = %v, want 7 (6 seeded + 1)", spent)
	}
}

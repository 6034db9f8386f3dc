package limit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestMemory() (*Memory, *fakeClock) {
	m, c := NewMemory(), newClock()
	m.Now = c.Now
	return m, c
}

func TestMemoryShared(t *testing.T) {
	for name, f := range map[string]func(*testing.T, Limiter){
		"RPM": testRPM, "TPMAdjust": testTPMAdjust, "Parallel": testParallel, "AllOrNothing": testAllOrNothing,
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := newTestMemory()
			f(t, m)
		})
	}
}

func TestMemoryRPMRefill(t *testing.T) {
	m, clock := newTestMemory()
	rules := []Rule{{Scope: "key:a", RPM: 10}}
	for i := range 10 {
		if d := admit(t, m, rules, 0, fmt.Sprint(i)); !d.Allowed {
			t.Fatalf("request %d refused", i+1)
		}
	}
	d := admit(t, m, rules, 0, "x")
	if d.Allowed || d.Reason != ReasonRequests || d.RetryAfter != 6*time.Second {
		t.Fatalf("11th = %+v, want refused, retry after exactly 6s", d)
	}
	if d.Requests != (Window{Limit: 10, Remaining: 0, Reset: time.Minute}) {
		t.Fatalf("Requests = %+v", d.Requests)
	}
	clock.Advance(6*time.Second - time.Millisecond)
	if d := admit(t, m, rules, 0, "x"); d.Allowed || d.RetryAfter != time.Millisecond {
		t.Fatalf("at 5.999s = %+v, want refused, retry after 1ms", d)
	}
	clock.Advance(time.Millisecond)
	if d := admit(t, m, rules, 0, "x"); !d.Allowed {
		t.Fatalf("at 6s = %+v, want allowed", d)
	}
	if d := admit(t, m, rules, 0, "y"); d.Allowed {
		t.Fatalf("second at 6s = %+v, want refused", d)
	}
	// Refill counts sub-millisecond steps: 12000 steps of 0.5ms make 6s.
	at, n := time.Time{}, 0
	for range 12000 {
		clock.Advance(500 * time.Microsecond)
		if d := admit(t, m, rules, 0, "z"); d.Allowed {
			at, n = clock.Now(), n+1
		}
	}
	if want := time.Date(2026, 3, 2, 12, 0, 12, 0, time.UTC); n != 1 || !at.Equal(want) {
		t.Fatalf("admitted %d, last at %v; want 1 at %v", n, at, want)
	}
	// A full minute refills the bucket, never past its capacity.
	clock.Advance(10 * time.Minute)
	if d := admit(t, m, rules, 0, "w"); !d.Allowed || d.Requests.Remaining != 9 {
		t.Fatalf("after idling = %+v, want 9 left", d)
	}
}

func TestMemoryTPMRefill(t *testing.T) {
	m, clock := newTestMemory()
	rules := []Rule{{Scope: "key:t", TPM: 6000}} // 100 per second
	admit(t, m, rules, 6000, "a")
	d := admit(t, m, rules, 250, "b")
	if d.Allowed || d.RetryAfter != 2500*time.Millisecond {
		t.Fatalf("= %+v, want refused for 2.5s", d)
	}
	clock.Advance(2500 * time.Millisecond)
	if d := admit(t, m, rules, 250, "b"); !d.Allowed || d.Tokens.Remaining != 0 || d.Tokens.Reset != time.Minute {
		t.Fatalf("= %+v, want allowed, empty, full in 1m", d)
	}
	if err := m.Adjust(context.Background(), rules, 3000); err != nil {
		t.Fatal(err)
	}
	if d := admit(t, m, rules, 0, "c"); d.Allowed || d.RetryAfter != 30*time.Second {
		t.Fatalf("in debt = %+v, want refused for 30s", d)
	}
	// 30s pay back the 3000 tokens of debt: the bucket is at 0, where an
	// empty request (which needs >= 0) passes and any other does not.
	clock.Advance(30 * time.Second)
	if d := admit(t, m, rules, 1, "c"); d.Allowed {
		t.Fatalf("1 token at 0 = %+v, want refused", d)
	}
	if d := admit(t, m, rules, 0, "c"); !d.Allowed {
		t.Fatalf("empty at 0 = %+v, want allowed", d)
	}
}

func TestMemoryParallelLeaseExpiry(t *testing.T) {
	m, clock := newTestMemory()
	m.LeaseTTL = time.Minute
	rules := []Rule{{Scope: "key:p", MaxParallel: 1}}
	admit(t, m, rules, 0, "crashed")
	if d := admit(t, m, rules, 0, "b"); d.Allowed {
		t.Fatal("second slot given while the first is held")
	}
	// Re-admitting under a lease already held does not need a new slot.
	if d := admit(t, m, rules, 0, "crashed"); !d.Allowed {
		t.Fatal("the holder of a lease was refused its own slot")
	}
	clock.Advance(time.Minute)
	if d := admit(t, m, rules, 0, "b"); !d.Allowed {
		t.Fatal("expired lease still held")
	}
}

func TestMemoryEviction(t *testing.T) {
	m, clock := newTestMemory()
	for i := range 100 {
		admit(t, m, []Rule{{Scope: fmt.Sprint("key:", i), RPM: 10, TPM: 100}}, 10, "l")
	}
	admit(t, m, []Rule{{Scope: "held", MaxParallel: 1}}, 0, "l")
	count := func() (n int) {
		for i := range m.shards {
			m.shards[i].mu.Lock()
			n += len(m.shards[i].m)
			m.shards[i].mu.Unlock()
		}
		return n
	}
	if n := count(); n != 101 {
		t.Fatalf("%d scopes, want 101", n)
	}
	clock.Advance(2 * time.Minute)
	// Touching every shard sweeps it.
	for i := range 1000 {
		admit(t, m, []Rule{{Scope: fmt.Sprint("probe:", i)}}, 0, "p")
	}
	all := make([]Rule, 0, 64)
	for i := range 64 {
		all = append(all, Rule{Scope: fmt.Sprint("sweep:", i), RPM: 1})
	}
	admit(t, m, all, 0, "p")
	if n := count(); n != 1+64 {
		t.Fatalf("%d scopes after sweep, want the held lease and the 64 just used", n)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m, _ := newTestMemory()
	testConcurrent(t, []Limiter{m}, 64, 50, 100)
}

func TestMemoryConcurrentRealClock(t *testing.T) {
	testParallelConcurrent(t, []Limiter{NewMemory()}, 32, 20, 5)
}

func BenchmarkMemoryAdmit(b *testing.B) {
	ctx := context.Background()
	rules := []Rule{
		{Scope: "key:key_ab12", RPM: 1 << 40, TPM: 1 << 40},
		{Scope: "team:ml", RPM: 1 << 40, TPM: 1 << 40},
		{Scope: "model:gpt-4o", RPM: 1 << 40},
	}
	b.Run("serial", func(b *testing.B) {
		m := NewMemory()
		b.ReportAllocs()
		for b.Loop() {
			if d, _ := m.Admit(ctx, rules, 100, "lease"); !d.Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		m := NewMemory()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if d, _ := m.Admit(ctx, rules, 100, "lease"); !d.Allowed {
					b.Fatal("refused")
				}
			}
		})
	})
	b.Run("with-lease", func(b *testing.B) {
		m := NewMemory()
		par := append(rules[:3:3], Rule{Scope: "user:alice", MaxParallel: 8})
		b.ReportAllocs()
		for b.Loop() {
			if d, _ := m.Admit(ctx, par, 100, "lease"); !d.Allowed {
				b.Fatal("refused")
			}
			_ = m.Release(ctx, par, "lease")
		}
	})
}

package route

import (
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
)

func testBreaker() config.Breaker {
	return config.Breaker{FailureRate: 0.5, MinRequests: 4, Window: config.Duration(10 * time.Second), Cooldown: config.Duration(5 * time.Second), Probes: 1}
}

// TestBreakerLifecycle: the breaker opens on a failure rate over the window,
// sheds load while open, lets one probe through after the cool-down, reopens
// when the probe fails and closes when one succeeds.
func TestBreakerLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHealth(testBreaker())
		d := h.Deployment("p", "m")
		outcome := func(failed bool) {
			t.Helper()
			if ok, _ := h.Allow(d); !ok {
				t.Fatalf("Allow refused while %v", d.status(h.cfg.Load(), time.Now()).State)
			}
			h.Done(d, failed)
		}
		// 3 failures: under min_requests, still closed.
		for range 3 {
			outcome(true)
		}
		if ok, _ := h.Allow(d); !ok {
			t.Fatal("breaker opened before min_requests")
		}
		h.Done(d, true) // 4 of 4 failed: opens
		ok, wait := h.Allow(d)
		if ok || wait != 5*time.Second {
			t.Fatalf("after 4 failures Allow = %v, wait %v; want refused for the 5s cool-down", ok, wait)
		}
		time.Sleep(3 * time.Second)
		if ok, wait := h.Allow(d); ok || wait != 2*time.Second {
			t.Errorf("3s into the cool-down: Allow = %v, wait %v; want refused, 2s left", ok, wait)
		}
		time.Sleep(2 * time.Second)
		if ok, _ := h.Allow(d); !ok {
			t.Fatal("after the cool-down the first probe was refused")
		}
		if ok, _ := h.Allow(d); ok {
			t.Error("a second concurrent probe was admitted with probes: 1")
		}
		h.Done(d, true) // the probe fails: open again
		if ok, _ := h.Allow(d); ok {
			t.Error("after a failed probe the breaker is not open")
		}
		time.Sleep(5 * time.Second)
		outcome(false) // the probe succeeds: closed
		if st := d.status(h.cfg.Load(), time.Now()).State; st != "closed" {
			t.Errorf("after a good probe state = %s, want closed", st)
		}
		for range 10 {
			outcome(false)
		}
	})
}

// TestBreakerWindow: failures older than the window no longer count.
func TestBreakerWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHealth(testBreaker())
		d := h.Deployment("p", "m")
		for range 3 {
			h.Allow(d)
			h.Done(d, true)
		}
		time.Sleep(11 * time.Second)
		for range 3 {
			h.Allow(d)
			h.Done(d, false)
		}
		h.Allow(d)
		h.Done(d, true) // 1 of 4 in the window failed
		if ok, _ := h.Allow(d); !ok {
			t.Error("breaker opened on failures that left the window")
		}
	})
}

// TestBudget: with ratio 0.2, 1000 requests allow the initial allowance plus
// 200 retries, never more.
func TestBudget(t *testing.T) {
	b := NewBudget(0.2)
	retries := 0
	for range 1000 {
		b.Request()
		for b.Retry() {
			retries++
		}
	}
	if retries > budgetCap+200 || retries < 200 {
		t.Errorf("retries = %d over 1000 requests at ratio 0.2, want between 200 and %d", retries, budgetCap+200)
	}
	b = NewBudget(0)
	n := 0
	for b.Retry() {
		n++
	}
	if n != budgetCap {
		t.Errorf("ratio 0 allowed %d retries, want only the initial %d", n, budgetCap)
	}
}

func model(strategy, sticky string, weights ...int) (*Model, *Health) {
	h := NewHealth(testBreaker())
	m := &Model{Name: "m", Strategy: strategy, Sticky: sticky}
	for i, w := range weights {
		p := fmt.Sprintf("p%d", i)
		m.Targets = append(m.Targets, Target{Provider: p, Model: "x", Weight: w, Dep: h.Deployment(p, "x")})
	}
	return m, h
}

func TestChooseSkipsOpenAndTried(t *testing.T) {
	m, h := model("weighted", "", 1, 1, 1)
	// Open p0's breaker.
	for range 4 {
		h.Allow(m.Targets[0].Dep)
		h.Done(m.Targets[0].Dep, true)
	}
	for range 200 {
		i, ok, _ := m.Choose(h, nil, 0)
		if !ok || i == 0 {
			t.Fatalf("Choose = %d, %v; want p1 or p2 while p0 is open", i, ok)
		}
		if i, _, _ := m.Choose(h, []bool{false, true}, 0); i != 2 {
			t.Fatalf("with p1 tried Choose = %d, want untried p2", i)
		}
	}
	// Only tried targets left: they may be retried.
	if i, ok, _ := m.Choose(h, []bool{false, true, true}, 0); !ok || i == 0 {
		t.Errorf("all healthy tried: Choose = %d, %v; want a retry of p1 or p2", i, ok)
	}
	for _, d := range []int{1, 2} {
		for range 4 {
			h.Allow(m.Targets[d].Dep)
			h.Done(m.Targets[d].Dep, true)
		}
	}
	if _, ok, wait := m.Choose(h, nil, 0); ok || wait <= 0 {
		t.Errorf("all open: Choose ok=%v wait=%v, want refused with a wait", ok, wait)
	}
}

// TestStickyCanary: a sticky model sends each caller to the same target, and
// the share of callers on the canary matches its weight.
func TestStickyCanary(t *testing.T) {
	m, h := model("weighted", "user", 90, 10)
	const users = 20000
	canary := 0
	for u := range users {
		hash := StickyHash(fmt.Sprintf("user-%d", u))
		first, _, _ := m.Choose(h, nil, hash)
		for range 3 {
			if again, _, _ := m.Choose(h, nil, hash); again != first {
				t.Fatalf("user-%d got target %d then %d", u, first, again)
			}
		}
		if first == 1 {
			canary++
		}
	}
	p := 0.1
	sd := math.Sqrt(users * p * (1 - p))
	if d := math.Abs(float64(canary) - users*p); d > 5*sd {
		t.Errorf("canary share: %d of %d users, want %v ± %.0f", canary, users, users*p, 5*sd)
	}
}

func TestLeastInflight(t *testing.T) {
	m, h := model("least_inflight", "", 1, 1, 1)
	end0 := m.Targets[0].Dep.Start()
	end2 := m.Targets[2].Dep.Start()
	for range 50 {
		if i, _, _ := m.Choose(h, nil, 0); i != 1 {
			t.Fatalf("Choose = %d, want the idle p1", i)
		}
	}
	end0(0)
	end2(0)
}

// TestLatencyAware: with power of two choices the slower target gets far
// less traffic, but not none.
func TestLatencyAware(t *testing.T) {
	m, h := model("latency", "", 1, 1)
	m.Targets[0].Dep.observe(0.200)
	m.Targets[1].Dep.observe(0.020)
	counts := [2]int{}
	for range 10000 {
		i, _, _ := m.Choose(h, nil, 0)
		counts[i]++
	}
	// p0 wins only when both samples are p0: about a quarter of the time.
	if counts[1] < 6500 || counts[0] < 1500 {
		t.Errorf("picks = %v, want most on the fast p1 and about 25%% on p0", counts)
	}
}

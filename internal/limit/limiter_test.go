package limit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Behaviours every Limiter shares, with assertions that hold on a fake
// clock as well as on Redis's real one (calls take a few milliseconds).

func admit(t *testing.T, l Limiter, rules []Rule, tokens int64, lease string) Decision {
	t.Helper()
	d, err := l.Admit(context.Background(), rules, tokens, lease)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return d
}

func within(d, lo, hi time.Duration) bool { return d >= lo && d <= hi }

func testRPM(t *testing.T, l Limiter) {
	rules := []Rule{{Scope: "key:rpm", RPM: 10}}
	for i := range 10 {
		d := admit(t, l, rules, 0, fmt.Sprint(i))
		if !d.Allowed {
			t.Fatalf("request %d refused: %+v", i+1, d)
		}
		if d.Requests.Limit != 10 || d.Requests.Remaining != int64(9-i) {
			t.Fatalf("request %d: Requests = %+v, want limit 10 remaining %d", i+1, d.Requests, 9-i)
		}
	}
	d := admit(t, l, rules, 0, "x")
	if d.Allowed || d.Reason != ReasonRequests || d.Scope != "key:rpm" {
		t.Fatalf("11th = %+v, want refused for requests by key:rpm", d)
	}
	if !within(d.RetryAfter, 5*time.Second, 6*time.Second) {
		t.Fatalf("RetryAfter = %v, want about 6s", d.RetryAfter)
	}
	if d.Requests.Remaining != 0 || !within(d.Requests.Reset, 59*time.Second, time.Minute) {
		t.Fatalf("Requests = %+v, want 0 remaining, reset about 1m", d.Requests)
	}
	if d.Tokens != (Window{}) {
		t.Fatalf("Tokens = %+v, want unset without a TPM", d.Tokens)
	}
}

func testTPMAdjust(t *testing.T, l Limiter) {
	ctx := context.Background()
	rules := []Rule{{Scope: "key:tpm", TPM: 1000}}
	d := admit(t, l, rules, 400, "a")
	if !d.Allowed || d.Tokens.Limit != 1000 || d.Tokens.Remaining != 600 {
		t.Fatalf("first = %+v, want allowed with 600 tokens left", d)
	}
	if d.Requests != (Window{}) {
		t.Fatalf("Requests = %+v, want unset without an RPM", d.Requests)
	}
	if d = admit(t, l, rules, 700, "b"); d.Allowed || d.Reason != ReasonTokens {
		t.Fatalf("700 tokens with 600 left = %+v, want refused for tokens", d)
	}
	// 100 missing tokens at 1000/min take 6s.
	if !within(d.RetryAfter, 5900*time.Millisecond, 6*time.Second) {
		t.Fatalf("RetryAfter = %v, want about 6s", d.RetryAfter)
	}
	// The real usage was 2000: the bucket goes into debt and blocks even an
	// empty request.
	if err := l.Adjust(ctx, rules, 1600); err != nil {
		t.Fatal(err)
	}
	if d = admit(t, l, rules, 0, "c"); d.Allowed || d.Reason != ReasonTokens || d.Tokens.Remaining != 0 {
		t.Fatalf("in debt = %+v, want refused for tokens", d)
	}
	// 1000 tokens of debt take a minute to pay back.
	if !within(d.RetryAfter, 59*time.Second, time.Minute) {
		t.Fatalf("RetryAfter in debt = %v, want about 1m", d.RetryAfter)
	}
	// A refund never fills the bucket past its capacity.
	if err := l.Adjust(ctx, rules, -5000); err != nil {
		t.Fatal(err)
	}
	if d = admit(t, l, rules, 0, "d"); !d.Allowed || d.Tokens.Remaining != 1000 {
		t.Fatalf("after refund = %+v, want allowed with the bucket full", d)
	}
	// A request larger than the whole bucket passes when it is full.
	if d = admit(t, l, rules, 5000, "e"); !d.Allowed || d.Tokens.Remaining != 0 {
		t.Fatalf("oversized = %+v, want allowed into debt", d)
	}
	if d = admit(t, l, rules, 1, "f"); d.Allowed {
		t.Fatalf("after oversized = %+v, want refused", d)
	}
}

func testParallel(t *testing.T, l Limiter) {
	ctx := context.Background()
	rules := []Rule{{Scope: "key:par", MaxParallel: 2}}
	for _, lease := range []string{"a", "b"} {
		if d := admit(t, l, rules, 0, lease); !d.Allowed {
			t.Fatalf("lease %s refused: %+v", lease, d)
		}
	}
	d := admit(t, l, rules, 0, "c")
	if d.Allowed || d.Reason != ReasonParallel || d.RetryAfter != ParallelRetry {
		t.Fatalf("third = %+v, want refused for parallel", d)
	}
	if err := l.Release(ctx, rules, "a"); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, rules, "a"); err != nil { // twice frees nothing more
		t.Fatal(err)
	}
	if d := admit(t, l, rules, 0, "c"); !d.Allowed {
		t.Fatalf("after release = %+v, want allowed", d)
	}
	if d := admit(t, l, rules, 0, "d"); d.Allowed {
		t.Fatalf("fourth = %+v, want refused", d)
	}
	// Release of rules without MaxParallel is a no-op.
	if err := l.Release(ctx, []Rule{{Scope: "key:none", RPM: 5}}, "a"); err != nil {
		t.Fatal(err)
	}
}

func testAllOrNothing(t *testing.T, l Limiter) {
	key := Rule{Scope: "key:aon", RPM: 5, TPM: 1000, MaxParallel: 3}
	team := Rule{Scope: "team:aon", RPM: 2}
	both := []Rule{key, team}
	for i := range 2 {
		if d := admit(t, l, both, 100, fmt.Sprint(i)); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	d := admit(t, l, both, 100, "2")
	if d.Allowed || d.Scope != "team:aon" || d.Reason != ReasonRequests {
		t.Fatalf("third = %+v, want refused by team:aon for requests", d)
	}
	// Headers pick the tightest rule: team with 0 left, not key with 3.
	if d.Requests.Limit != 2 || d.Requests.Remaining != 0 {
		t.Fatalf("Requests = %+v, want team's window", d.Requests)
	}
	if d.Tokens.Limit != 1000 || d.Tokens.Remaining != 800 {
		t.Fatalf("Tokens = %+v, want 800 of 1000", d.Tokens)
	}
	// The refusal took nothing from key: it still has 3 requests, 800
	// tokens and one parallel slot.
	d = admit(t, l, []Rule{key}, 800, "3")
	if !d.Allowed || d.Requests.Remaining != 2 || d.Tokens.Remaining != 0 {
		t.Fatalf("key alone = %+v, want allowed with 2 requests and 0 tokens left", d)
	}
	if d = admit(t, l, []Rule{{Scope: "key:aon", MaxParallel: 3}}, 0, "4"); d.Allowed {
		t.Fatalf("fourth slot = %+v, want refused (3 held)", d)
	}
	// Rules without limits pass and report nothing.
	if d = admit(t, l, []Rule{{Scope: "free"}}, 10, "5"); !d.Allowed || d.Requests != (Window{}) {
		t.Fatalf("unlimited = %+v, want allowed", d)
	}
	if d = admit(t, l, nil, 10, "6"); !d.Allowed {
		t.Fatalf("no rules = %+v, want allowed", d)
	}
}

// testConcurrent runs n goroutines admitting against RPM limit and
// checks exactly limit pass.
func testConcurrent(t *testing.T, ls []Limiter, goroutines, each int, limit int64) {
	rules := []Rule{{Scope: "key:conc", RPM: limit}, {Scope: "team:conc", TPM: 1 << 30}}
	var ok, errs atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := ls[g%len(ls)]
			for i := range each {
				d, err := l.Admit(context.Background(), rules, 1, fmt.Sprint(g, ".", i))
				if err != nil {
					errs.Add(1)
					continue
				}
				if d.Allowed {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d Admit errors", errs.Load())
	}
	if ok.Load() != limit {
		t.Fatalf("admitted %d, want exactly %d", ok.Load(), limit)
	}
}

// testParallelConcurrent checks that leases held across limiters never
// exceed MaxParallel.
func testParallelConcurrent(t *testing.T, ls []Limiter, goroutines, each int, maxPar int64) {
	rules := []Rule{{Scope: "key:parc", MaxParallel: maxPar}}
	var held, peak, admitted, errs atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := ls[g%len(ls)]
			for i := range each {
				lease := fmt.Sprint(g, ".", i)
				d, err := l.Admit(context.Background(), rules, 0, lease)
				if err != nil {
					errs.Add(1)
					continue
				}
				if !d.Allowed {
					continue
				}
				admitted.Add(1)
				h := held.Add(1)
				for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
				}
				time.Sleep(time.Millisecond)
				held.Add(-1) // before Release, so the count never lags the limiter
				if err := l.Release(context.Background(), rules, lease); err != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d errors", errs.Load())
	}
	if peak.Load() > maxPar {
		t.Fatalf("peak %d held, want at most %d", peak.Load(), maxPar)
	}
	if admitted.Load() < maxPar {
		t.Fatalf("only %d admitted", admitted.Load())
	}
}

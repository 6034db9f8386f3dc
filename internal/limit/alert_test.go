package limit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAlerterRetriesAndBody(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("body %q: %v", b, err)
		}
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	a := NewAlerter(srv.URL, srv.Client(), nil)
	a.Backoff = 10 * time.Millisecond
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a.Send(Crossing{Budget: Budget{Scope: "team:ml", USD: 100, Period: "monthly"}, Threshold: 0.8, SpentUSD: 80.5, PeriodStart: start})
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d posts, want 2 (a 500, then success)", calls.Load())
	}
	want := map[string]any{
		"type": "budget.threshold", "scope": "team:ml", "threshold": 0.8, "spent_usd": 80.5,
		"budget_usd": 100.0, "period": "monthly", "period_start": "2026-03-01T00:00:00Z",
	}
	for _, b := range bodies {
		if diff := cmp.Diff(want, b); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	}
	// After Close, Send drops without posting.
	a.Send(Crossing{Budget: Budget{Scope: "x"}})
	if calls.Load() != 2 {
		t.Error("Send after Close posted")
	}
}

func TestAlerterGivesUp(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusBadRequest) // not worth retrying
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	a := NewAlerter(srv.URL, srv.Client(), nil)
	a.Attempts, a.Backoff = 3, time.Millisecond
	a.Send(Crossing{})
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d posts, want 3 attempts", calls.Load())
	}

	calls.Store(0)
	a = NewAlerter(srv.URL+"/bad", srv.Client(), nil)
	a.Backoff = time.Millisecond
	a.Send(Crossing{})
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d posts after a 400, want 1", calls.Load())
	}
}

func TestAlerterSendDoesNotBlockAndCloseAbandons(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	a := NewAlerter(srv.URL, srv.Client(), nil)
	begin := time.Now()
	for range 10 {
		a.Send(Crossing{})
	}
	if el := time.Since(begin); el > 100*time.Millisecond {
		t.Errorf("Send blocked for %v", el)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want deadline exceeded", err)
	}
}

func TestAlerterDisabled(t *testing.T) {
	a := NewAlerter("", nil, nil)
	a.Send(Crossing{})
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

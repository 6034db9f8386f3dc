package limit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Alerter posts budget threshold crossings to a webhook, asynchronously,
// with a few retries with backoff; it never blocks the caller.
type Alerter struct {
	// Attempts is how many times a crossing is posted before it is
	// dropped (logged); Backoff is the wait before the first retry,
	// doubling after each. Set them before the first Send.
	Attempts int
	Backoff  time.Duration

	url    string
	client *http.Client
	log    *slog.Logger

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// NewAlerter makes an alerter posting to url with client (nil: one with a
// 10s timeout), logging failures to log (nil: discarded). An empty url
// disables alerts.
func NewAlerter(url string, client *http.Client, log *slog.Logger) *Alerter {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Alerter{Attempts: 4, Backoff: 500 * time.Millisecond, url: url, client: client, log: log, ctx: ctx, cancel: cancel}
}

// alertBody is the webhook payload.
type alertBody struct {
	Type        string  `json:"type"`
	Scope       string  `json:"scope"`
	Threshold   float64 `json:"threshold"`
	SpentUSD    float64 `json:"spent_usd"`
	BudgetUSD   float64 `json:"budget_usd"`
	Period      string  `json:"period"`
	PeriodStart string  `json:"period_start"` // RFC 3339, UTC
}

// Send posts c in the background. After Close it only logs c.
func (a *Alerter) Send(c Crossing) {
	if a.url == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		a.log.Warn("budget alert dropped: alerter closed", "scope", c.Budget.Scope, "threshold", c.Threshold)
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.deliver(c)
	}()
}

func (a *Alerter) deliver(c Crossing) {
	body, err := json.Marshal(alertBody{
		Type: "budget.threshold", Scope: c.Budget.Scope, Threshold: c.Threshold,
		SpentUSD: c.SpentUSD, BudgetUSD: c.Budget.USD, Period: c.Budget.Period,
		PeriodStart: c.PeriodStart.UTC().Format(time.RFC3339),
	})
	if err != nil {
		a.log.Error("budget alert: encode", "err", err)
		return
	}
	wait := a.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := a.post(body)
		if err == nil {
			return
		}
		if !retry || attempt >= a.Attempts {
			a.log.Error("budget alert failed", "scope", c.Budget.Scope, "threshold", c.Threshold, "attempts", attempt, "err", err)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-a.ctx.Done():
			t.Stop()
			a.log.Error("budget alert abandoned at close", "scope", c.Budget.Scope, "threshold", c.Threshold, "err", err)
			return
		}
		wait *= 2
	}
}

// post makes one attempt; retry tells whether another could succeed
// (network errors, 429 and 5xx).
func (a *Alerter) post(body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(a.ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return a.ctx.Err() == nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, fmt.Errorf("webhook status %d", resp.StatusCode)
}

// Close stops accepting crossings and waits for in-flight sends, including
// their retries; when ctx ends first it abandons them and returns ctx's
// error.
func (a *Alerter) Close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		a.cancel()
		return nil
	case <-ctx.Done():
		a.cancel()
		<-done // abandoned sends return promptly once cancelled
		return ctx.Err()
	}
}

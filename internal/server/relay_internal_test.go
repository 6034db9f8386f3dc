package server

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryHint(t *testing.T) {
	soon := time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name     string
		hdr      map[string]string
		min, max time.Duration
	}{
		{"none", nil, 0, 0},
		{"retry-after seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, 7 * time.Second},
		{"retry-after fraction", map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond, 500 * time.Millisecond},
		{"openai tokens reset", map[string]string{"X-Ratelimit-Remaining-Tokens": "0", "X-Ratelimit-Reset-Tokens": "6m0s"}, 6 * time.Minute, 6 * time.Minute},
		{"groq requests reset", map[string]string{"X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "172.799999ms"}, 172 * time.Millisecond, 173 * time.Millisecond},
		{"openai limit not exhausted", map[string]string{"X-Ratelimit-Remaining-Tokens": "10", "X-Ratelimit-Reset-Tokens": "6m0s"}, 0, 0},
		{"anthropic reset timestamp", map[string]string{"Anthropic-Ratelimit-Input-Tokens-Remaining": "0", "Anthropic-Ratelimit-Input-Tokens-Reset": soon}, 28 * time.Second, 31 * time.Second},
		{"retry-after wins", map[string]string{"Retry-After": "2", "Anthropic-Ratelimit-Requests-Remaining": "0", "Anthropic-Ratelimit-Requests-Reset": soon}, 2 * time.Second, 2 * time.Second},
	} {
		h := http.Header{}
		for k, v := range tc.hdr {
			h.Set(k, v)
		}
		if got := retryHint(h); got < tc.min || got > tc.max {
			t.Errorf("%s: retryHint = %v, want between %v and %v", tc.name, got, tc.min, tc.max)
		}
	}
}

// TestRequestIDsSortByTime: generated ids start with the time, so later
// ids sort after earlier ones (the usage store's primary key relies on it
// to grow at its end), and they stay unique.
func TestRequestIDsSortByTime(t *testing.T) {
	a := requestID("")
	time.Sleep(2 * time.Millisecond)
	b, c := requestID(""), requestID("")
	if !(a < b) || b == c || len(a) != 36 || a[:4] != "req_" {
		t.Errorf("ids %q %q %q: want req_ + 32 hex, time-ordered and unique", a, b, c)
	}
	if got := requestID("client-id-1"); got != "client-id-1" {
		t.Errorf("a sane client id was replaced: %q", got)
	}
}

// Package cache holds the gateway's short-lived request state that must be
// shared by replicas when Redis is configured: idempotency records (and, in
// time, the response cache). Each store has a memory implementation for a
// single process and a Redis one for many.
package cache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Stored is a response kept for replay.
type Stored struct {
	Status int               `json:"status"`
	Header map[string]string `json:"header"`
	Body   []byte            `json:"body"`
	// Fingerprint identifies the request that produced it; a repeat of the
	// key with another request is refused.
	Fingerprint [32]byte `json:"fingerprint"`
}

// ErrMismatch is returned when an idempotency key is reused for a different
// request.
var ErrMismatch = errors.New("idempotency key reused with a different request")

// Memory is the in-process idempotency store. Begin on a key nobody holds
// makes the caller the leader; concurrent callers with the same key wait
// for the leader's Complete (and get its response) or Abort (and then one of
// them leads). Completed records live for the TTL.
type Memory struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]*memEntry
	sweep   time.Time
}

type memEntry struct {
	fp      [32]byte
	done    chan struct{}
	res     *Stored
	expires time.Time // zero while in flight
}

// NewMemory makes a store keeping completed responses for ttl and at most
// max records (past it, new keys are not recorded: the request runs, but a
// repeat is not deduplicated).
func NewMemory(ttl time.Duration, max int) *Memory {
	return &Memory{ttl: ttl, max: max, entries: make(map[string]*memEntry)}
}

// Begin returns the stored response for key, waiting for one in flight. A
// nil response with a nil error means the caller leads: it must call
// Complete or Abort.
func (m *Memory) Begin(ctx context.Context, key string, fp [32]byte) (*Stored, error) {
	for {
		m.mu.Lock()
		now := time.Now()
		m.sweepLocked(now)
		e := m.entries[key]
		if e != nil && !e.expires.IsZero() && now.After(e.expires) {
			delete(m.entries, key)
			e = nil
		}
		if e == nil {
			if len(m.entries) < m.max {
				m.entries[key] = &memEntry{fp: fp, done: make(chan struct{})}
			}
			m.mu.Unlock()
			return nil, nil
		}
		if e.fp != fp {
			m.mu.Unlock()
			return nil, ErrMismatch
		}
		if e.res != nil {
			m.mu.Unlock()
			return e.res, nil
		}
		done := e.done
		m.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Complete stores the leader's response and wakes the waiters.
func (m *Memory) Complete(_ context.Context, key string, s *Stored) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	if e == nil || e.res != nil {
		return
	}
	e.res = s
	e.expires = time.Now().Add(m.ttl)
	close(e.done)
}

// Abort drops the leader's claim (its request failed): a waiter or a later
// repeat runs the request again.
func (m *Memory) Abort(_ context.Context, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil && e.res == nil {
		delete(m.entries, key)
		close(e.done)
	}
}

// sweepLocked drops expired records, at most once a second.
func (m *Memory) sweepLocked(now time.Time) {
	if now.Sub(m.sweep) < time.Second {
		return
	}
	m.sweep = now
	for k, e := range m.entries {
		if !e.expires.IsZero() && now.After(e.expires) {
			delete(m.entries, k)
		}
	}
}

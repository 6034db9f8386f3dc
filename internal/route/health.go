package route

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
)

// BreakerState is a circuit breaker's state.
type BreakerState int

const (
	// Closed: requests flow and outcomes are counted.
	Closed BreakerState = iota
	// Open: the deployment is skipped until the cool-down ends.
	Open
	// HalfOpen: a few probe requests test whether it recovered.
	HalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "closed"
}

// Deployment is one (provider, upstream model) pair and what the gateway
// knows about its health: in-flight requests, an EWMA of its time to first
// byte, and its circuit breaker. Deployments outlive config reloads (they
// live in Health), so a reload does not forget that a deployment is down.
type Deployment struct {
	Provider, Model string

	inflight atomic.Int64
	ewmaBits atomic.Uint64 // float64 seconds; 0 = no sample yet

	mu       sync.Mutex
	state    BreakerState
	buckets  [breakerBuckets]bucket
	openedAt time.Time
	probes   int // probes in flight while half-open
}

// breakerBuckets splits the breaker window into this many slots, so old
// outcomes age out in steps of window/breakerBuckets.
const breakerBuckets = 10

type bucket struct {
	start      time.Time
	ok, failed int
}

// Health is the registry of deployments, shared by every config generation.
type Health struct {
	mu     sync.RWMutex
	deps   map[string]*Deployment
	cfg    atomic.Pointer[config.Breaker]
	shared Shared // nil: health is this process's alone
}

// Shared is where replicas publish and read circuit-breaker trips (Redis);
// ids are Deployment.ID values.
type Shared interface {
	Trip(ctx context.Context, id string, until time.Time) error
	OpenUntil(ctx context.Context, ids []string) ([]time.Time, error)
}

// SetShared makes breaker trips visible to other replicas through s. Call it
// before serving, and run Sync.
func (h *Health) SetShared(s Shared) { h.shared = s }

// ID identifies a deployment across replicas.
func (d *Deployment) ID() string { return d.Provider + "/" + d.Model }

// Sync copies other replicas' trips into this one every interval until ctx
// ends. Errors (Redis down) leave local health as it is: each replica then
// protects itself.
func (h *Health) Sync(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.syncOnce(ctx)
		}
	}
}

func (h *Health) syncOnce(ctx context.Context) {
	h.mu.RLock()
	deps := make([]*Deployment, 0, len(h.deps))
	for _, d := range h.deps {
		deps = append(deps, d)
	}
	h.mu.RUnlock()
	ids := make([]string, len(deps))
	for i, d := range deps {
		ids[i] = d.ID()
	}
	until, err := h.shared.OpenUntil(ctx, ids)
	if err != nil {
		return
	}
	cfg := h.cfg.Load()
	now := time.Now()
	for i, d := range deps {
		if !until[i].After(now) {
			continue
		}
		d.mu.Lock()
		if d.currentState(cfg, now) != Open {
			d.trip(until[i].Add(-cfg.Cooldown.D()))
		}
		d.mu.Unlock()
	}
}

// maxDeployments bounds the registry: "provider/model" names come from
// clients, and a client must not be able to grow it without limit. Past the
// bound, unknown deployments get untracked health.
const maxDeployments = 10000

// NewHealth makes an empty registry using breaker settings b.
func NewHealth(b config.Breaker) *Health {
	h := &Health{deps: make(map[string]*Deployment)}
	h.SetBreaker(b)
	return h
}

// SetBreaker changes the breaker settings (on config reload).
func (h *Health) SetBreaker(b config.Breaker) { h.cfg.Store(&b) }

// Deployment returns the deployment for provider and model, creating it.
func (h *Health) Deployment(provider, model string) *Deployment {
	key := provider + "\x00" + model
	h.mu.RLock()
	d := h.deps[key]
	h.mu.RUnlock()
	if d != nil {
		return d
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if d = h.deps[key]; d != nil {
		return d
	}
	d = &Deployment{Provider: provider, Model: model}
	if len(h.deps) < maxDeployments {
		h.deps[key] = d
	}
	return d
}

// Snapshot lists every tracked deployment's health, for the admin API.
func (h *Health) Snapshot() []DeploymentStatus {
	h.mu.RLock()
	defer h.mu.RUnlock()
	cfg := h.cfg.Load()
	out := make([]DeploymentStatus, 0, len(h.deps))
	now := time.Now()
	for _, d := range h.deps {
		out = append(out, d.status(cfg, now))
	}
	return out
}

// DeploymentStatus is a deployment's health at one moment.
type DeploymentStatus struct {
	Provider   string  `json:"provider"`
	Model      string  `json:"model"`
	State      string  `json:"state"`
	InFlight   int64   `json:"in_flight"`
	LatencyMS  float64 `json:"ewma_first_byte_ms"`
	Requests   int     `json:"window_requests"`
	Failures   int     `json:"window_failures"`
	RetryAfter float64 `json:"open_for_seconds,omitzero"`
}

func (d *Deployment) status(cfg *config.Breaker, now time.Time) DeploymentStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.currentState(cfg, now)
	total, failed := d.counts(cfg, now)
	s := DeploymentStatus{
		Provider: d.Provider, Model: d.Model, State: st.String(),
		InFlight: d.inflight.Load(), LatencyMS: d.latency() * 1000,
		Requests: total, Failures: failed,
	}
	if st == Open {
		s.RetryAfter = (cfg.Cooldown.D() - now.Sub(d.openedAt)).Seconds()
	}
	return s
}

// Allow reports whether a request may go to d now. A half-open deployment
// admits up to Probes requests at a time; Done must follow every allowed
// request. When it refuses, wait says how long until the cool-down ends.
func (h *Health) Allow(d *Deployment) (ok bool, wait time.Duration) {
	cfg := h.cfg.Load()
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.currentState(cfg, now) {
	case Open:
		return false, cfg.Cooldown.D() - now.Sub(d.openedAt)
	case HalfOpen:
		if d.probes >= cfg.Probes {
			return false, 0
		}
		d.probes++
	}
	return true, 0
}

// currentState moves an open breaker to half-open once its cool-down is
// over; d.mu is held.
func (d *Deployment) currentState(cfg *config.Breaker, now time.Time) BreakerState {
	if d.state == Open && now.Sub(d.openedAt) >= cfg.Cooldown.D() {
		d.state = HalfOpen
		d.probes = 0
	}
	return d.state
}

// Done records the outcome of a request Allow admitted. failed means a
// failure that says the deployment is unhealthy (server error, timeout,
// broken connection); client errors and rate limits are not failures here.
func (h *Health) Done(d *Deployment, failed bool) {
	cfg := h.cfg.Load()
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.currentState(cfg, now) {
	case HalfOpen:
		d.probes--
		if failed {
			d.trip(now)
			h.publish(d, now.Add(cfg.Cooldown.D()))
			return
		}
		d.state = Closed
		d.buckets = [breakerBuckets]bucket{}
		return
	case Open:
		return // a request admitted before the breaker opened
	}
	b := d.bucket(cfg, now)
	if failed {
		b.failed++
	} else {
		b.ok++
	}
	if !failed {
		return
	}
	total, nfailed := d.counts(cfg, now)
	if total >= cfg.MinRequests && float64(nfailed) >= cfg.FailureRate*float64(total) {
		d.trip(now)
		h.publish(d, now.Add(cfg.Cooldown.D()))
	}
}

// publish tells other replicas about a trip, off the request path (trips
// are rare, and a slow Redis must not slow the request that saw the failure).
func (h *Health) publish(d *Deployment, until time.Time) {
	if h.shared == nil {
		return
	}
	id := d.ID()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h.shared.Trip(ctx, id, until)
	}()
}

func (d *Deployment) trip(now time.Time) {
	d.state = Open
	d.openedAt = now
	d.probes = 0
	d.buckets = [breakerBuckets]bucket{}
}

// bucket returns the slot for now, recycling a stale one; d.mu is held.
func (d *Deployment) bucket(cfg *config.Breaker, now time.Time) *bucket {
	width := cfg.Window.D() / breakerBuckets
	if width <= 0 {
		width = time.Second
	}
	slot := now.Truncate(width)
	i := int(slot.UnixNano()/int64(width)) % breakerBuckets
	if i < 0 {
		i += breakerBuckets
	}
	b := &d.buckets[i]
	if !b.start.Equal(slot) {
		*b = bucket{start: slot}
	}
	return b
}

// counts sums the outcomes inside the window; d.mu is held.
func (d *Deployment) counts(cfg *config.Breaker, now time.Time) (total, failed int) {
	for _, b := range d.buckets {
		if now.Sub(b.start) < cfg.Window.D() {
			total += b.ok + b.failed
			failed += b.failed
		}
	}
	return total, failed
}

// Start marks a request in flight on d; the returned func ends it and
// records its time to first byte (0 = none, e.g. it failed before).
func (d *Deployment) Start() func(firstByte time.Duration) {
	d.inflight.Add(1)
	return func(fb time.Duration) {
		d.inflight.Add(-1)
		if fb > 0 {
			d.observe(fb.Seconds())
		}
	}
}

// ewmaAlpha weighs a new latency sample; 0.2 follows a change within about
// ten requests without jumping on one outlier.
const ewmaAlpha = 0.2

func (d *Deployment) observe(sec float64) {
	for {
		old := d.ewmaBits.Load()
		prev := math.Float64frombits(old)
		next := sec
		if old != 0 {
			next = prev + ewmaAlpha*(sec-prev)
		}
		if d.ewmaBits.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}

func (d *Deployment) latency() float64 { return math.Float64frombits(d.ewmaBits.Load()) }

// InFlight is the number of requests in flight on d.
func (d *Deployment) InFlight() int64 { return d.inflight.Load() }

// peek reports whether d would admit a request now, without taking a probe
// slot (Allow does that when the attempt is made).
func (h *Health) peek(d *Deployment) (bool, time.Duration) {
	cfg := h.cfg.Load()
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.currentState(cfg, now) {
	case Open:
		return false, cfg.Cooldown.D() - now.Sub(d.openedAt)
	case HalfOpen:
		return d.probes < cfg.Probes, 0
	}
	return true, 0
}

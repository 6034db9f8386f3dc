// Package route maps the model name a client sends to the upstream targets
// that can serve it, and picks one.
//
// A name resolves, in order, to a configured model (config: models) or, when
// it has the form "provider/model" and the prefix names a configured provider,
// to that provider directly. Choose picks the target for each attempt by the
// model's strategy, skipping deployments whose circuit breaker is open.
package route

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
)

// Target is one upstream deployment of a model.
type Target struct {
	Provider string // provider name
	Model    string // the model name sent upstream
	Weight   int
	Dep      *Deployment
	// ModelHeader is []string{Model}, shared by every response naming it.
	ModelHeader []string
}

// Model is a client-facing model name and its targets.
type Model struct {
	Name       string
	Targets    []Target
	Fallbacks  []string
	FallbackOn map[string]bool
	Strategy   string // weighted | least_inflight | latency
	Sticky     string // "" | user | key
	Retries    int
	Shape      config.Shape
}

// Table is the model table of one config generation. It is immutable.
type Table struct {
	models    map[string]*Model
	names     []string // config order, for listing
	providers map[string]bool
	health    *Health
	retries   int // for direct provider/model names
}

// NewTable builds the table from a validated config. Deployments come from
// h, which outlives the table.
func NewTable(cfg *config.Config, h *Health) *Table {
	t := &Table{
		models:    make(map[string]*Model, len(cfg.Models)),
		providers: make(map[string]bool, len(cfg.Providers)),
		health:    h,
		retries:   config.DefaultRetries,
	}
	for _, p := range cfg.Providers {
		t.providers[p.Name] = true
	}
	for _, m := range cfg.Models {
		rm := &Model{Name: m.Name, Fallbacks: m.Fallbacks, Strategy: m.Strategy, Sticky: m.Sticky, Retries: m.Retries, Shape: m.Shape,
			FallbackOn: make(map[string]bool, len(m.FallbackOn))}
		for _, c := range m.FallbackOn {
			rm.FallbackOn[c] = true
		}
		for _, tg := range m.Targets {
			model := tg.Model
			if model == "" {
				model = m.Name
			}
			rm.Targets = append(rm.Targets, Target{Provider: tg.Provider, Model: model, Weight: tg.Weight, Dep: h.Deployment(tg.Provider, model), ModelHeader: []string{model}})
		}
		t.models[m.Name] = rm
		t.names = append(t.names, m.Name)
	}
	return t
}

// Lookup resolves a client's model name. Direct "provider/model" names give a
// one-target Model of their own.
func (t *Table) Lookup(name string) (*Model, bool) {
	if m, ok := t.models[name]; ok {
		return m, true
	}
	prov, model, ok := strings.Cut(name, "/")
	if !ok || model == "" || !t.providers[prov] {
		return nil, false
	}
	return &Model{
		Name:     name,
		Targets:  []Target{{Provider: prov, Model: model, Weight: 1, Dep: t.health.Deployment(prov, model), ModelHeader: []string{model}}},
		Strategy: "weighted",
		Retries:  t.retries,
	}, true
}

// Names lists the configured model names in config order.
func (t *Table) Names() []string { return t.names }

// Pick chooses a target by weight, ignoring health.
func (m *Model) Pick() Target {
	i, _ := m.pickWeighted(nil, rand.Uint64())
	return m.Targets[i]
}

// StickyHash is the hash that makes sticky choices: the same caller string
// always maps to the same target while the targets and weights stay.
func StickyHash(caller string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(caller))
	return h.Sum64()
}

// Choose picks the next target for an attempt. It skips targets whose
// breaker is open and targets in tried (whose index is set), unless only
// tried ones remain, which may then be retried. sticky, when non-zero, makes
// the weighted choice deterministic. ok is false when every target's breaker
// is open; wait then says when the first one may be tried again.
func (m *Model) Choose(h *Health, tried []bool, sticky uint64) (idx int, ok bool, wait time.Duration) {
	var eligBuf [8]bool
	elig := eligBuf[:0]
	fresh, any := false, false
	wait = -1
	for i, t := range m.Targets {
		allowed, w := h.peek(t.Dep)
		if !allowed && (wait < 0 || w < wait) {
			wait = w
		}
		e := allowed && t.Weight > 0
		elig = append(elig, e)
		if e {
			any = true
			if i >= len(tried) || !tried[i] {
				fresh = true
			}
		}
	}
	if !any {
		return 0, false, max(wait, 0)
	}
	if fresh { // prefer targets not yet tried for this request
		for i := range elig {
			if i < len(tried) && tried[i] {
				elig[i] = false
			}
		}
	}
	switch m.Strategy {
	case "least_inflight":
		return m.leastInflight(elig), true, 0
	case "latency":
		return m.powerOfTwo(elig), true, 0
	}
	r := sticky
	if r == 0 || m.Sticky == "" {
		r = rand.Uint64()
	}
	i, _ := m.pickWeighted(elig, r)
	return i, true, 0
}

// pickWeighted draws by weight among eligible targets (all when elig is nil)
// using r as the random number.
func (m *Model) pickWeighted(elig []bool, r uint64) (int, bool) {
	total := 0
	for i, t := range m.Targets {
		if elig == nil || elig[i] {
			total += t.Weight
		}
	}
	if total <= 0 {
		for i := range m.Targets {
			if elig == nil || elig[i] {
				return i, true
			}
		}
		return 0, false
	}
	x := int(r % uint64(total))
	for i, t := range m.Targets {
		if elig != nil && !elig[i] {
			continue
		}
		if x < t.Weight {
			return i, true
		}
		x -= t.Weight
	}
	return len(m.Targets) - 1, true
}

func (m *Model) leastInflight(elig []bool) int {
	best, bestN, ties := -1, int64(0), 0
	for i, t := range m.Targets {
		if !elig[i] {
			continue
		}
		n := t.Dep.InFlight()
		switch {
		case best < 0 || n < bestN:
			best, bestN, ties = i, n, 1
		case n == bestN:
			ties++
			if rand.IntN(ties) == 0 { // reservoir: a fair pick among ties
				best = i
			}
		}
	}
	return best
}

// powerOfTwo samples two eligible targets by weight and keeps the one with
// the lower expected wait (EWMA latency × (in flight + 1)); untried targets
// (no latency sample) win, so every target gets measured.
func (m *Model) powerOfTwo(elig []bool) int {
	a, _ := m.pickWeighted(elig, rand.Uint64())
	b, _ := m.pickWeighted(elig, rand.Uint64())
	if a == b {
		return a
	}
	cost := func(i int) float64 {
		d := m.Targets[i].Dep
		return d.latency() * float64(d.InFlight()+1)
	}
	if cost(b) < cost(a) {
		return b
	}
	return a
}

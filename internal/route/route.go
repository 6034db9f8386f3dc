// Package route maps the model name a client sends to the upstream targets
// that can serve it, and picks one.
//
// A name resolves, in order, to a configured model (config: models) or, when
// it has the form "provider/model" and the prefix names a configured provider,
// to that provider directly. Weighted choice is by cumulative weights, so a
// pick is one random draw and a short scan.
package route

import (
	"math/rand/v2"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/config"
)

// Target is one upstream deployment of a model.
type Target struct {
	Provider string // provider name
	Model    string // the model name sent upstream
	Weight   int
}

// Model is a client-facing model name and its targets.
type Model struct {
	Name      string
	Targets   []Target
	Fallbacks []string
	cum       []int // cumulative weights, for Pick
	total     int
}

// Table is the model table of one config generation. It is immutable.
type Table struct {
	models    map[string]*Model
	names     []string // config order, for listing
	providers map[string]bool
}

// NewTable builds the table from a validated config.
func NewTable(cfg *config.Config) *Table {
	t := &Table{
		models:    make(map[string]*Model, len(cfg.Models)),
		providers: make(map[string]bool, len(cfg.Providers)),
	}
	for _, p := range cfg.Providers {
		t.providers[p.Name] = true
	}
	for _, m := range cfg.Models {
		rm := &Model{Name: m.Name, Fallbacks: m.Fallbacks}
		for _, tg := range m.Targets {
			model := tg.Model
			if model == "" {
				model = m.Name
			}
			rm.Targets = append(rm.Targets, Target{Provider: tg.Provider, Model: model, Weight: tg.Weight})
			rm.total += tg.Weight
			rm.cum = append(rm.cum, rm.total)
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
		Name:    name,
		Targets: []Target{{Provider: prov, Model: model, Weight: 1}},
		cum:     []int{1},
		total:   1,
	}, true
}

// Names lists the configured model names in config order.
func (t *Table) Names() []string { return t.names }

// Pick chooses a target by weight.
func (m *Model) Pick() Target {
	if len(m.Targets) == 1 || m.total <= 0 {
		return m.Targets[0]
	}
	r := rand.IntN(m.total)
	for i, c := range m.cum {
		if r < c {
			return m.Targets[i]
		}
	}
	return m.Targets[len(m.Targets)-1]
}

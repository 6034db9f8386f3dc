package route

import (
	"math"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
)

func testTable() *Table {
	return NewTable(&config.Config{
		Providers: []config.Provider{{Name: "openai"}, {Name: "azure"}},
		Models: []config.Model{
			{Name: "gpt-4o", Targets: []config.Target{{Provider: "openai", Model: "gpt-4o", Weight: 95}, {Provider: "azure", Model: "dep", Weight: 5}}},
			{Name: "plain", Targets: []config.Target{{Provider: "openai", Weight: 1}}},
			{Name: "openai/pinned", Targets: []config.Target{{Provider: "azure", Model: "x", Weight: 1}}},
		},
	}, NewHealth(config.Default().Routing.Breaker))
}

func TestLookup(t *testing.T) {
	tb := testTable()
	for _, tc := range []struct {
		name         string
		ok           bool
		wantProvider string
		wantModel    string
	}{
		{"plain", true, "openai", "plain"}, // empty target model defaults to the model name
		{"openai/gpt-4o-mini", true, "openai", "gpt-4o-mini"},
		{"openai/pinned", true, "azure", "x"}, // a configured model wins over the direct form
		{"azure/my-deployment", true, "azure", "my-deployment"},
		{"unknown/model", false, "", ""},
		{"openai/", false, "", ""},
		{"nope", false, "", ""},
	} {
		m, ok := tb.Lookup(tc.name)
		if ok != tc.ok {
			t.Errorf("Lookup(%q) ok = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := m.Pick(); got.Provider != tc.wantProvider || got.Model != tc.wantModel {
			t.Errorf("Lookup(%q).Pick() = %s/%s, want %s/%s", tc.name, got.Provider, got.Model, tc.wantProvider, tc.wantModel)
		}
	}
	if got := tb.Names(); len(got) != 3 || got[0] != "gpt-4o" {
		t.Errorf("Names() = %q, want config order", got)
	}
}

// TestPickWeights checks the 95/5 split holds within five standard deviations
// over many picks (a failure by chance is about one in three million).
func TestPickWeights(t *testing.T) {
	m, _ := testTable().Lookup("gpt-4o")
	const n = 100000
	azure := 0
	for range n {
		if m.Pick().Provider == "azure" {
			azure++
		}
	}
	p := 0.05
	sd := math.Sqrt(n * p * (1 - p))
	if d := math.Abs(float64(azure) - n*p); d > 5*sd {
		t.Errorf("azure picked %d of %d times, want %v ± %.0f", azure, n, n*p, 5*sd)
	}
}

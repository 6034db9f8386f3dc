package usage

import (
	"math"
	"testing"
)

func TestLookup(t *testing.T) {
	p := NewPrices(nil)
	tests := []struct {
		model string
		want  string // the table entry it must resolve to, "" for unknown
	}{
		{"gpt-4o", "gpt-4o"},
		{"GPT-4o", "gpt-4o"},
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-mini", "gpt-4o-mini"},
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"gpt-4.1", "gpt-4.1"},
		{"gpt-4.1-mini", "gpt-4.1-mini"},
		{"gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"},
		{"gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"},
		{"o3", "o3"},
		{"o3-mini", "o3-mini"},
		{"o3-mini-2025-01-31", "o3-mini"},
		{"o3-2025-04-16", "o3"},
		{"gpt-5-mini-2025-08-07", "gpt-5-mini"},
		{"openai/gpt-4o-mini", "gpt-4o-mini"},
		{"models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"gemini-2.5-flash-lite", "gemini-2.5-flash-lite"},
		{"gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"},
		{"gemini-1.5-pro-002", "gemini-1.5-pro"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-sonnet-4-20250514", "claude-sonnet-4"},
		{"claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"claude-opus-4-5-20251101", "claude-opus-4-5"},
		{"claude-3-5-haiku-latest", "claude-3-5-haiku"},
		{"claude-sonnet-4-5@20250929", "claude-sonnet-4-5"},
		{"anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"},
		{"eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"},
		{"apac.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"},
		{"anthropic/claude-haiku-4-5", "claude-haiku-4-5"},
		{"mistral-large-2411", "mistral-large"},
		{"demo", "demo"},
		// Not versions of a known model: unknown rather than mispriced.
		{"gpt-4o-mini-tts", ""},
		{"o3-pro", ""},
		{"o3-mini-high", ""},
		{"gpt-4o-audio-preview", ""},
		{"gpt-4", ""},
		{"llama-3.1-8b", ""},
		{"no-such-model", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := p.Lookup(tt.model)
		if tt.want == "" {
			if ok {
				t.Errorf("Lookup(%q) = %+v, want unknown", tt.model, got)
			}
			continue
		}
		want, wok := p.byName[tt.want]
		if !wok {
			t.Fatalf("table has no %q", tt.want)
		}
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %s %+v", tt.model, got, ok, tt.want, want)
		}
	}
}

func TestCost(t *testing.T) {
	p := NewPrices(map[string]Price{
		"gpt-4o":       {Input: 1, Output: 2}, // override wins, cached falls back to input
		"my-finetune":  {Input: 10, Output: 20, CachedInput: 1},
		"Custom-Upper": {Input: 1, Output: 1},
	})
	tests := []struct {
		model                 string
		input, output, cached int64
		want                  float64
		known                 bool
	}{
		{"gpt-4o-mini", 1_000_000, 1_000_000, 0, 0.15 + 0.60, true},
		{"gpt-4o-mini", 1_000_000, 0, 400_000, 0.6*0.15 + 0.4*0.075, true},
		{"gpt-4o", 1_000_000, 1_000_000, 500_000, 1 + 2, true},
		{"gpt-4o-2024-08-06", 2_000_000, 0, 0, 2, true},
		{"my-finetune", 1_000_000, 1_000_000, 1_000_000, 1 + 20, true},
		{"custom-upper", 1_000_000, 0, 0, 1, true},
		{"claude-sonnet-4-5-20250929", 10_000, 2_000, 8_000, (2_000*3 + 8_000*0.30 + 2_000*15) / 1e6, true},
		{"o3-mini", 0, 0, 0, 0, true},
		{"gpt-3.5-turbo", 100, 0, 100, 100 * 0.5 / 1e6, true}, // no cached price: billed as input
		{"o3-mini", 100, 0, 500, 100 * 0.55 / 1e6, true},      // cached clamped to input
		{"text-embedding-3-small", 1_000_000, 0, 0, 0.02, true},
		{"unknown-model", 1000, 1000, 0, 0, false},
	}
	for _, tt := range tests {
		got, known := p.Cost(tt.model, tt.input, tt.output, tt.cached)
		if known != tt.known || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Cost(%q, %d, %d, %d) = %v, %v; want %v, %v", tt.model, tt.input, tt.output, tt.cached, got, known, tt.want, tt.known)
		}
	}
}

func TestDefaultTable(t *testing.T) {
	m, err := parsePrices(defaultPrices)
	if err != nil {
		t.Fatal(err)
	}
	for name, pr := range m {
		if pr.Input <= 0 || pr.Output < 0 || pr.CachedInput < 0 || pr.CachedInput > pr.Input {
			t.Errorf("%s: implausible price %+v", name, pr)
		}
	}
	if len(m) < 40 {
		t.Errorf("table has %d entries", len(m))
	}
}

func BenchmarkCost(b *testing.B) {
	p := NewPrices(nil)
	for b.Loop() {
		p.Cost("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 1000, 100, 10)
	}
}

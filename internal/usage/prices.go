package usage

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Price is what a model costs, in USD per million tokens.
type Price struct {
	Input       float64 `json:"input"`
	Output      float64 `json:"output"`
	CachedInput float64 `json:"cached_input,omitzero"` // 0 means the same as Input
}

//go:embed prices.json
var defaultPrices []byte

// Prices is a read-only price table, safe for concurrent use.
type Prices struct {
	byName map[string]Price
	// names sorted longest first, so the prefix rule finds the most
	// specific family ("gpt-4o-mini" before "gpt-4o").
	names []string
}

// NewPrices returns the embedded default table with overrides applied; an
// override replaces the default entry of the same name.
func NewPrices(overrides map[string]Price) *Prices {
	defaults, err := parsePrices(defaultPrices)
	if err != nil {
		// The table is compiled in and covered by tests: a parse error is a
		// build defect, not a runtime condition.
		panic(err)
	}
	for name, pr := range overrides {
		defaults[strings.ToLower(name)] = pr
	}
	p := &Prices{byName: defaults, names: make([]string, 0, len(defaults))}
	for name := range defaults {
		p.names = append(p.names, name)
	}
	slices.SortFunc(p.names, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return p
}

func parsePrices(data []byte) (map[string]Price, error) {
	var raw map[string]jsontext.Value
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("usage: prices: %w", err)
	}
	out := make(map[string]Price, len(raw))
	for name, v := range raw {
		if strings.HasPrefix(name, "_") { // comments
			continue
		}
		var pr Price
		if err := json.Unmarshal(v, &pr); err != nil {
			return nil, fmt.Errorf("usage: prices: %s: %w", name, err)
		}
		out[strings.ToLower(name)] = pr
	}
	return out, nil
}

// Bedrock model ids carry a cross-region inference prefix and a vendor
// prefix in front of the provider's own name.
var (
	regionPrefixes = []string{"us.", "eu.", "apac.", "global.", "us-gov."}
	vendorPrefixes = []string{"anthropic.", "meta.", "amazon.", "mistral.", "cohere.", "ai21."}
)

// Lookup finds the price of model: by exact name, then without a
// "provider/" prefix and Bedrock region and vendor prefixes, then as a dated
// or versioned name of a known model ("gpt-4o-2024-08-06",
// "claude-sonnet-4-5@20250929", "...-v1:0"). A suffix that is not a version
// ("gpt-4o-mini-tts", "o3-pro") is not priced as the shorter family: an
// unknown model is better than a wrong price.
func (p *Prices) Lookup(model string) (Price, bool) {
	if pr, ok := p.byName[model]; ok {
		return pr, true
	}
	m := strings.ToLower(model)
	if pr, ok := p.byName[m]; ok {
		return pr, true
	}
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
		if pr, ok := p.byName[m]; ok {
			return pr, true
		}
	}
	m = stripAny(m, regionPrefixes)
	m = stripAny(m, vendorPrefixes)
	if pr, ok := p.byName[m]; ok {
		return pr, true
	}
	for _, name := range p.names {
		if len(m) > len(name) && strings.HasPrefix(m, name) && isVersionSuffix(m[len(name)], m[len(name)+1:]) {
			return p.byName[name], true
		}
	}
	return Price{}, false
}

func stripAny(s string, prefixes []string) string {
	for _, pre := range prefixes {
		if strings.HasPrefix(s, pre) {
			return s[len(pre):]
		}
	}
	return s
}

// isVersionSuffix reports whether rest, following separator sep, names a
// version of the model rather than a different model. After '@' or ':'
// anything is a tag; after '-' the first segment must be a number (a date,
// "002", "20241022") or a release word.
func isVersionSuffix(sep byte, rest string) bool {
	switch sep {
	case '@', ':':
		return true
	case '-':
	default:
		return false
	}
	seg, _, _ := strings.Cut(rest, "-")
	seg, _, _ = strings.Cut(seg, ":")
	switch {
	case seg == "":
		return false
	case allDigits(seg):
		return true
	case seg == "latest", seg == "preview", seg == "exp":
		return true
	case seg[0] == 'v' && allDigits(seg[1:]) && len(seg) > 1:
		return true
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Cost is the price of one request in USD. input includes cached (OpenAI's
// convention: prompt_tokens includes cached_tokens); cached tokens are billed
// at CachedInput. known is false, and the cost 0, for a model without a price.
func (p *Prices) Cost(model string, input, output, cached int64) (usd float64, known bool) {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	input, output, cached = max(input, 0), max(output, 0), max(cached, 0)
	cached = min(cached, input)
	cachedPrice := pr.CachedInput
	if cachedPrice == 0 {
		cachedPrice = pr.Input
	}
	usd = (float64(input-cached)*pr.Input + float64(cached)*cachedPrice + float64(output)*pr.Output) / 1e6
	return usd, true
}

package route

import (
	"slices"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/config"
)

// Caller is what rules can match a request on.
type Caller struct {
	Model string // the model asked for
	Tags  string // the raw x-switchboard-tags header: "a,b"
	Key   string // key name, "" in open mode
	Team  string
	// Metadata returns the request's metadata object; called only when a
	// rule needs it, so requests pay for it only then.
	Metadata func() map[string]string
}

// Rules are the compiled routing rules of one config generation.
type Rules struct {
	rules []config.Rule
}

// NewRules compiles cfg's rules.
func NewRules(rules []config.Rule) *Rules { return &Rules{rules: rules} }

// Match returns the first rule that matches c, or nil.
func (r *Rules) Match(c Caller) *config.Rule {
	var meta map[string]string
	for i := range r.rules {
		rule := &r.rules[i]
		m := rule.Match
		if len(m.Models) > 0 && !slices.Contains(m.Models, c.Model) ||
			len(m.Keys) > 0 && !slices.Contains(m.Keys, c.Key) ||
			len(m.Teams) > 0 && !slices.Contains(m.Teams, c.Team) ||
			!hasTags(c.Tags, m.Tags) {
			continue
		}
		if len(m.Metadata) > 0 {
			if meta == nil && c.Metadata != nil {
				meta = c.Metadata()
			}
			ok := true
			for k, v := range m.Metadata {
				if meta[k] != v {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
		}
		return rule
	}
	return nil
}

// hasTags reports whether every wanted tag is in the comma-separated header.
func hasTags(header string, want []string) bool {
	for _, w := range want {
		found := false
		for t := range strings.SplitSeq(header, ",") {
			if strings.TrimSpace(t) == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Empty reports whether there are no rules.
func (r *Rules) Empty() bool { return len(r.rules) == 0 }

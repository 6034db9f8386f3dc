// Package pii detects and redacts personally identifiable information (PII)
// in prompts and answers flowing through the gateway.
//
// A Redactor is built from a list of rules. Each rule names either a
// built-in detector (ssn, email, phone, credit_card, iban, ip) or a custom
// Go regexp, and an action: redact (replace with a typed placeholder such as
// [REDACTED_EMAIL]), block (report the finding so the caller can refuse the
// request) or log (leave the text, report the finding).
//
// Findings never carry the matched value: only the rule name, its action and
// a count. Callers may therefore log them or put the rule name into an
// error message without leaking the data the rule protects.
//
// Matching is a single left-to-right scan: at each position the match that
// starts first wins; on a tie the longest match wins, then the rule listed
// first. Matches never overlap, so a value is counted by one rule only.
package pii

import (
	"fmt"
	"regexp"
	"strings"
)

// Action is what a rule does with a match.
type Action string

const (
	// ActionRedact replaces the match with the rule's placeholder.
	ActionRedact Action = "redact"
	// ActionBlock reports the match so the caller refuses the request. The
	// match is also replaced by the placeholder in returned text.
	ActionBlock Action = "block"
	// ActionLog leaves the text unchanged and only reports the match.
	ActionLog Action = "log"
)

// Built-in detector names.
const (
	DetectorSSN        = "ssn"
	DetectorEmail      = "email"
	DetectorPhone      = "phone"
	DetectorCreditCard = "credit_card"
	DetectorIBAN       = "iban"
	DetectorIP         = "ip"
)

// DefaultMaxMatch is the longest match assumed for a custom rule whose
// MaxMatch is zero. It bounds how much text a Stream holds back.
const DefaultMaxMatch = 64

// maxMaxMatch caps Rule.MaxMatch to keep stream hold-back sane.
const maxMaxMatch = 4096

// Rule configures one detector.
type Rule struct {
	// Name is a built-in detector name, or any name made of letters,
	// digits, '_', '-' and '.' for a custom rule. It appears in findings
	// and placeholders ([REDACTED_<UPPERCASED NAME>]).
	Name string
	// Action is redact, block or log.
	Action Action
	// Pattern is a Go regexp; set for custom rules only.
	Pattern string
	// MaxMatch is, for custom rules only, the longest match (in bytes)
	// the pattern is expected to produce; 0 means DefaultMaxMatch. Streams
	// hold back this much text so that a match split across pieces is
	// still found; matches longer than this may be missed or cut when
	// streaming.
	MaxMatch int
}

// Finding reports how often one rule matched. It never contains the value.
type Finding struct {
	Rule   string
	Action Action
	Count  int
}

// String formats a finding without any matched value.
func (f Finding) String() string {
	return fmt.Sprintf("%s(%s)x%d", f.Rule, f.Action, f.Count)
}

// Blocked returns the first finding whose action is block, if any. Use its
// Rule in the refusal message; the value is never available.
func Blocked(findings []Finding) (Finding, bool) {
	for _, f := range findings {
		if f.Action == ActionBlock && f.Count > 0 {
			return f, true
		}
	}
	return Finding{}, false
}

// BlockedError is a ready-made error for a request refused by a block rule.
// Its message names the rule and never the value.
type BlockedError struct{ Rule string }

func (e *BlockedError) Error() string {
	return fmt.Sprintf("request blocked by PII policy rule %q", e.Rule)
}

// matcher finds the earliest match starting at or after from in s. It must
// look only at s around the match (a few bytes of context before the start
// and a bounded number after), so that the result does not depend on text
// far away; streams rely on this.
type matcher func(s string, from int, st stats) (start, end int, ok bool)

type rule struct {
	name        string
	action      Action
	placeholder string
	match       matcher
	need        func(stats) bool // prefilter; nil means always run
}

// Redactor applies a fixed set of rules. It is safe for concurrent use. A
// nil *Redactor is valid and does nothing.
type Redactor struct {
	rules    []rule
	maxMatch int
	custom   bool // any regexp rule (affects where streams cut)
}

// New builds a Redactor. An empty rule list yields a nil Redactor, which is a
// valid no-op.
func New(rules []Rule) (*Redactor, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	r := &Redactor{}
	seen := make(map[string]bool, len(rules))
	for i, cfg := range rules {
		name := cfg.Name
		if name == "" {
			return nil, fmt.Errorf("pii: rule #%d: empty name", i+1)
		}
		if !validName(name) {
			return nil, fmt.Errorf("pii: rule %q: name may only contain letters, digits, '_', '-' and '.'", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("pii: rule %q: duplicate rule name", name)
		}
		seen[name] = true
		switch cfg.Action {
		case ActionRedact, ActionBlock, ActionLog:
		default:
			return nil, fmt.Errorf("pii: rule %q: invalid action %q (want redact, block or log)", name, cfg.Action)
		}
		ru := rule{name: name, action: cfg.Action, placeholder: "[REDACTED_" + strings.ToUpper(name) + "]"}
		b, builtin := builtins[name]
		switch {
		case builtin && cfg.Pattern != "":
			return nil, fmt.Errorf("pii: rule %q: built-in detector takes no pattern; use another name for a custom rule", name)
		case builtin:
			if cfg.MaxMatch != 0 {
				return nil, fmt.Errorf("pii: rule %q: MaxMatch is for custom rules only", name)
			}
			ru.match, ru.need = b.match, b.need
			r.maxMatch = max(r.maxMatch, b.maxLen)
		case cfg.Pattern == "":
			return nil, fmt.Errorf("pii: rule %q: unknown built-in detector and no pattern given", name)
		default:
			re, err := regexp.Compile(cfg.Pattern)
			if err != nil {
				return nil, fmt.Errorf("pii: rule %q: bad pattern: %w", name, err)
			}
			if re.MatchString("") {
				return nil, fmt.Errorf("pii: rule %q: pattern matches the empty string", name)
			}
			mm := cfg.MaxMatch
			if mm < 0 || mm > maxMaxMatch {
				return nil, fmt.Errorf("pii: rule %q: MaxMatch %d out of range [0, %d]", name, mm, maxMaxMatch)
			}
			if mm == 0 {
				mm = DefaultMaxMatch
			}
			ru.match = regexpMatcher(re)
			r.maxMatch = max(r.maxMatch, mm)
			r.custom = true
		}
		r.rules = append(r.rules, ru)
	}
	return r, nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Text applies the rules to s and returns the redacted text and the
// findings (nil when nothing matched). Matches of block rules are reported
// and also replaced by their placeholder; log matches are left in place.
func (r *Redactor) Text(s string) (string, []Finding) {
	if r == nil || s == "" {
		return s, nil
	}
	var acc accum
	out, _ := r.apply(s, &acc)
	return out, acc.findings(r)
}

// apply runs the rules over s, adding to acc. changed reports whether the
// returned text differs from s.
func (r *Redactor) apply(s string, acc *accum) (out string, changed bool) {
	var sc scanner
	sc.init(r, s)
	var b *strings.Builder
	var bb strings.Builder
	last := 0
	for i := 0; ; {
		ri, start, end, ok := sc.next(i)
		if !ok {
			break
		}
		acc.add(len(r.rules), ri)
		ru := &r.rules[ri]
		if ru.action != ActionLog {
			if b == nil {
				b = &bb
				b.Grow(len(s) + 16)
			}
			b.WriteString(s[last:start])
			b.WriteString(ru.placeholder)
			last = end
		}
		i = end
	}
	if b == nil {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// accum counts matches per rule; it allocates only on the first match.
type accum struct{ counts []int }

func (a *accum) add(n, ri int) {
	if a.counts == nil {
		a.counts = make([]int, n)
	}
	a.counts[ri]++
}

func (a *accum) findings(r *Redactor) []Finding {
	if a.counts == nil {
		return nil
	}
	var fs []Finding
	for i, c := range a.counts {
		if c > 0 {
			fs = append(fs, Finding{Rule: r.rules[i].name, Action: r.rules[i].action, Count: c})
		}
	}
	return fs
}

// scanner finds the sequence of non-overlapping winning matches in s,
// caching each rule's next candidate.
type scanner struct {
	r     *Redactor
	s     string
	st    stats
	extra []cand // used when there are more rules than fit in buf
	buf   [8]cand
}

func (sc *scanner) cand(k int) *cand {
	if sc.extra != nil {
		return &sc.extra[k]
	}
	return &sc.buf[k]
}

type cand struct {
	start, end int
	from       int  // candidate was computed searching from here
	ok         bool // a match was found
	valid      bool // cache populated
	skip       bool // prefilter excluded this rule
}

func (sc *scanner) init(r *Redactor, s string) {
	sc.r, sc.s = r, s
	sc.st = computeStats(s)
	if len(r.rules) > len(sc.buf) {
		sc.extra = make([]cand, len(r.rules))
	}
	for i := range r.rules {
		need := r.rules[i].need
		*sc.cand(i) = cand{skip: need != nil && !need(sc.st)}
	}
}

// next returns the winning match starting at or after i.
func (sc *scanner) next(i int) (ri, start, end int, ok bool) {
	best := -1
	for k := range sc.r.rules {
		c := sc.cand(k)
		if c.skip {
			continue
		}
		if !c.valid || (c.ok && c.start < i) {
			st, en, found := sc.r.rules[k].match(sc.s, i, sc.st)
			*c = cand{start: st, end: en, from: i, ok: found, valid: true}
		}
		if !c.ok {
			continue
		}
		if best < 0 || c.start < start || (c.start == start && c.end > end) {
			best, start, end = k, c.start, c.end
		}
	}
	if best < 0 {
		return 0, 0, 0, false
	}
	return best, start, end, true
}

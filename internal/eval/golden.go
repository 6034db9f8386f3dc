// Package eval runs a golden set of prompts against models served by a
// running gateway and reports pass rate, latency and cost per model, side by
// side (`switchboard eval`, DESIGN.md §1).
package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Message is one chat message of a case.
type Message struct {
	Role    string `yaml:"role" json:"role"`
	Content string `yaml:"content" json:"content"`
}

// Expect lists what an answer must satisfy; every expectation given must
// hold.
type Expect struct {
	// Contains: every string appears in the answer (case-insensitive).
	Contains []string
	// NotContains: no string appears in the answer (case-insensitive).
	NotContains []string
	// Regex matches the answer (Go syntax, case as written); nil if not given.
	Regex *regexp.Regexp
	// Equals is the whole answer after trimming space (exact, case
	// included); nil if not given.
	Equals *string
	// JSON: the answer parses as JSON.
	JSON bool
}

// Case is one prompt of a golden set.
type Case struct {
	Name        string
	Messages    []Message // the system message, if any, first
	MaxTokens   *int
	Temperature *float64
	Expect      Expect
}

// stringList decodes a list of strings or a single string.
type stringList []string

func (s *stringList) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

type expectSpec struct {
	Contains    stringList `yaml:"contains"`
	NotContains stringList `yaml:"not_contains"`
	Regex       *string    `yaml:"regex"`
	Equals      *string    `yaml:"equals"`
	JSON        bool       `yaml:"json"`
}

type caseSpec struct {
	Name        string      `yaml:"name"`
	Prompt      *string     `yaml:"prompt"`
	System      *string     `yaml:"system"`
	Messages    []Message   `yaml:"messages"`
	MaxTokens   *int        `yaml:"max_tokens"`
	Temperature *float64    `yaml:"temperature"`
	Expect      *expectSpec `yaml:"expect"`
}

// Load reads a golden file: a YAML (or JSON) list of cases. Unknown keys,
// a case without expectations, a case with both prompt and messages (or
// neither), an invalid regex and duplicate case names are errors naming the
// file, line and case.
func Load(file string) ([]Case, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("golden file: %w", err)
	}
	return Parse(data, file)
}

// Parse is Load on data already read; source names it in errors.
func Parse(data []byte, source string) ([]Case, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", source, yamlMessage(err))
	}
	var body ast.Node
	if len(f.Docs) > 0 {
		body = f.Docs[0].Body
	}
	if len(f.Docs) > 1 {
		return nil, fmt.Errorf("%s: want one YAML document, found %d", source, len(f.Docs))
	}
	seq, ok := body.(*ast.SequenceNode)
	if !ok {
		if body == nil {
			return nil, fmt.Errorf("%s: no cases: want a list of cases", source)
		}
		return nil, fmt.Errorf("%s: want a list of cases at the top level, found %s", source, body.Type())
	}
	if len(seq.Values) == 0 {
		return nil, fmt.Errorf("%s: no cases", source)
	}
	cases := make([]Case, 0, len(seq.Values))
	seen := map[string]int{}
	for i, node := range seq.Values {
		line := node.GetToken().Position.Line
		label := fmt.Sprintf("case %d", i+1)
		// The name first, loosely, so a later error can say which case.
		var named struct {
			Name string `yaml:"name"`
		}
		if yaml.NodeToValue(node, &named) == nil && named.Name != "" {
			label = fmt.Sprintf("case %d (%q)", i+1, named.Name)
		}
		var spec caseSpec
		if err := yaml.NodeToValue(node, &spec, yaml.Strict()); err != nil {
			var ye yaml.Error
			if errors.As(err, &ye) && ye.GetToken() != nil {
				line = ye.GetToken().Position.Line
			}
			return nil, fmt.Errorf("%s:%d: %s: %s", source, line, label, yamlMessage(err))
		}
		c, err := spec.toCase(i)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", source, line, label, err)
		}
		if j, dup := seen[c.Name]; dup {
			return nil, fmt.Errorf("%s:%d: %s: name %q already used by case %d", source, line, label, c.Name, j+1)
		}
		seen[c.Name] = i
		cases = append(cases, c)
	}
	return cases, nil
}

// yamlMessage is a decoding error without the source excerpt goccy adds.
func yamlMessage(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return ye.GetMessage()
	}
	return err.Error()
}

func (s caseSpec) toCase(i int) (Case, error) {
	c := Case{Name: s.Name, MaxTokens: s.MaxTokens, Temperature: s.Temperature}
	if c.Name == "" {
		c.Name = fmt.Sprintf("case-%d", i+1)
	}
	switch {
	case s.Prompt != nil && len(s.Messages) > 0:
		return Case{}, errors.New("both prompt and messages given: use one")
	case s.Prompt != nil:
		if strings.TrimSpace(*s.Prompt) == "" {
			return Case{}, errors.New("prompt is empty")
		}
		c.Messages = []Message{{Role: "user", Content: *s.Prompt}}
	case len(s.Messages) > 0:
		for j, m := range s.Messages {
			if m.Role == "" {
				return Case{}, fmt.Errorf("messages[%d]: no role", j)
			}
		}
		c.Messages = append([]Message(nil), s.Messages...)
	default:
		return Case{}, errors.New("no prompt or messages")
	}
	if s.System != nil {
		c.Messages = append([]Message{{Role: "system", Content: *s.System}}, c.Messages...)
	}
	if s.MaxTokens != nil && *s.MaxTokens <= 0 {
		return Case{}, errors.New("max_tokens must be positive")
	}
	if s.Expect == nil {
		return Case{}, errors.New("no expect: every case needs at least one expectation (contains, not_contains, regex, equals, json)")
	}
	e := s.Expect
	c.Expect = Expect{Contains: e.Contains, NotContains: e.NotContains, Equals: e.Equals, JSON: e.JSON}
	if e.Regex != nil {
		re, err := regexp.Compile(*e.Regex)
		if err != nil {
			return Case{}, fmt.Errorf("expect.regex: %w", err)
		}
		c.Expect.Regex = re
	}
	if len(e.Contains) == 0 && len(e.NotContains) == 0 && e.Regex == nil && e.Equals == nil && !e.JSON {
		return Case{}, errors.New("expect is empty: give at least one of contains, not_contains, regex, equals, json")
	}
	return c, nil
}

// Check reports whether answer meets every expectation; reason says which
// one failed first.
func (e Expect) Check(answer string) (pass bool, reason string) {
	lower := strings.ToLower(answer)
	for _, s := range e.Contains {
		if !strings.Contains(lower, strings.ToLower(s)) {
			return false, fmt.Sprintf("contains %q: not in the answer", s)
		}
	}
	for _, s := range e.NotContains {
		if strings.Contains(lower, strings.ToLower(s)) {
			return false, fmt.Sprintf("not_contains %q: found in the answer", s)
		}
	}
	if e.Regex != nil && !e.Regex.MatchString(answer) {
		return false, fmt.Sprintf("regex %q: no match", e.Regex.String())
	}
	if e.Equals != nil && strings.TrimSpace(answer) != strings.TrimSpace(*e.Equals) {
		return false, fmt.Sprintf("equals %q: answer differs", *e.Equals)
	}
	if e.JSON && !json.Valid([]byte(strings.TrimSpace(answer))) {
		return false, "json: the answer is not valid JSON"
	}
	return true, ""
}

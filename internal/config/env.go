package config

import (
	"fmt"
	"strings"
)

// unsetVarError reports a ${VAR} whose variable is not set and has no default.
type unsetVarError struct{ name string }

func (e *unsetVarError) Error() string {
	return fmt.Sprintf("environment variable %s is not set (set it, or give a default: ${%s:-value})", e.name, e.name)
}

// expand replaces ${VAR} and ${VAR:-default} in s with values from lookup and
// $$ with a literal $. A $ followed by anything else is kept as is, so
// passwords containing $ need no escaping. The default is used when the
// variable is unset or empty, as in the shell, and may itself contain
// ${...}. expand returns the names of the variables it read.
//
// It runs on scalar values after YAML parsing, so an expanded value is always
// data and never YAML structure.
func expand(s string, lookup func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	var vars []string
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte(c)
			i++
			continue
		}
		end := matchingBrace(s, i+1)
		if end < 0 {
			return "", vars, fmt.Errorf("unterminated ${ at offset %d (write $$ for a literal $)", i)
		}
		body := s[i+2 : end]
		name, def, hasDef := strings.Cut(body, ":-")
		if !validVarName(name) {
			return "", vars, fmt.Errorf("invalid variable name %q in ${...}; names are letters, digits and _, e.g. ${OPENAI_API_KEY}", name)
		}
		vars = append(vars, name)
		v, ok := lookup(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			dv, dvars, err := expand(def, lookup)
			vars = append(vars, dvars...)
			if err != nil {
				return "", vars, err
			}
			b.WriteString(dv)
		case ok: // set but empty, no default
		default:
			return "", vars, &unsetVarError{name: name}
		}
		i = end + 1
	}
	return b.String(), vars, nil
}

// matchingBrace returns the index of the } closing the { at open, or -1.
func matchingBrace(s string, open int) int {
	depth := 0
	for j := open; j < len(s); j++ {
		switch s[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

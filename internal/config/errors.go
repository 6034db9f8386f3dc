package config

import (
	"fmt"
	"strings"
)

// Error is returned by Parse and Load when a config cannot be used. It lists
// every problem found, each with its position, so that one run shows
// everything to fix. Messages never contain a value that came from the
// environment: they name the variable instead.
type Error struct {
	Source   string    // the file name, "" when parsing bytes without a name
	Problems []Problem // in the order found; at least one
}

// Problem is one reason a config was rejected.
type Problem struct {
	Line, Column int    // 1-based position in the file; 0 when unknown
	Path         string // where in the config, e.g. "providers[0].base_url"; "" for the whole file
	Message      string // complete sentence fragment, e.g. `unknown key "base_ur" in providers[0]`
}

// maxShownProblems bounds Error's text; Problems always holds all of them.
const maxShownProblems = 20

// Error formats one problem per line as "source:line:col: message", the form
// editors and terminals turn into links.
func (e *Error) Error() string {
	src := e.Source
	if src == "" {
		src = "config"
	}
	var b strings.Builder
	for i, p := range e.Problems {
		if i == maxShownProblems {
			fmt.Fprintf(&b, "\n%s: ... and %d more problems", src, len(e.Problems)-i)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(src)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		}
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as two tables: one row per model (cases,
// passed, pass rate, errors, p50/p95 latency, tokens, cost), then one row
// per case with a PASS/FAIL/ERROR column per model, the reasons numbered in
// footnotes below.
func (r Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	src := ""
	if r.Golden != "" {
		src = r.Golden + ": "
	}
	fmt.Fprintf(ew, "%s%d cases × %d models via %s\n\n", src, len(r.Cases), len(r.Models), r.URL)

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tCASES\tPASSED\tPASS RATE\tERRORS\tP50 MS\tP95 MS\tTOKENS\tCOST USD")
	var notes []string
	for _, s := range r.Models {
		p50, p95 := "-", "-"
		if s.Cases-s.Errors > 0 {
			p50, p95 = fmtMS(s.P50MS), fmtMS(s.P95MS)
		}
		cost := fmtUSD(s.CostUSD)
		answered := s.Cases - s.Errors
		switch {
		case answered == 0:
			cost = "-"
		case s.Unpriced > 0:
			if s.Unpriced == answered {
				cost = "?"
			} else {
				cost += " (+?)"
			}
			notes = append(notes, fmt.Sprintf("%s: no price for %s: cost shown as ? and left out of the total (%d of %d answers)",
				s.Model, strings.Join(s.UnpricedModels, ", "), s.Unpriced, answered))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s%%\t%d\t%s\t%s\t%d\t%s\n",
			s.Model, s.Cases, s.Passed, strconv.FormatFloat(s.PassRate, 'f', 1, 64), s.Errors, p50, p95, s.Tokens, cost)
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(ew, "cost:", n)
	}

	fmt.Fprintln(ew)
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "CASE")
	for _, s := range r.Models {
		fmt.Fprint(tw, "\t", s.Model)
	}
	fmt.Fprintln(tw)
	var reasons []string
	for _, c := range r.Cases {
		fmt.Fprint(tw, c.Name)
		for _, s := range r.Models {
			res, ok := c.Results[s.Model]
			cell := "PASS"
			switch {
			case !ok:
				cell = "-"
			case res.Pass:
			default:
				cell = "FAIL"
				if res.Error {
					cell = "ERROR"
				}
				reasons = append(reasons, fmt.Sprintf("[%d] %s / %s: %s", len(reasons)+1, c.Name, s.Model, res.Reason))
				cell += fmt.Sprintf(" [%d]", len(reasons))
			}
			fmt.Fprint(tw, "\t", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if len(reasons) > 0 {
		fmt.Fprintln(ew)
		for _, s := range reasons {
			fmt.Fprintln(ew, s)
		}
	}
	return ew.err
}

// WriteJSON writes the report as indented JSON:
// {"url", "golden", "models": [Summary...], "cases": [{"name", "results": {model: Result}}]}.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func fmtMS(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func fmtUSD(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

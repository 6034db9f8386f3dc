package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: write json: %w", err)
	}
	return nil
}

// WriteTable writes r as plain-text tables: latency and resources per run,
// then streaming timings, then any errors.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "Switchboard overhead benchmark: %d CPUs (%s), %s %s, %s; each run %s after %s warm-up\n",
		m.CPUs, m.CPUModel, m.Go, m.OS, r.Settings.Mode, r.Settings.Duration, r.Settings.Warmup)
	fmt.Fprintf(w, "latency in ms from the scheduled send time (open loop) or the send time (closed loop); gw cpu, emu cpu = gateway's, emulator's CPU ms per request (= CPU s per 1000 requests);\n"+
		"other cores = CPU used meanwhile by everything else (kernel networking, other processes), in cores\n\n")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tload\ttarget\tsent/s\tok/s\terrors\tp50\tp90\tp99\tp99.9\tgw cpu\tgw rss MB\temu cpu\tother cores\t")
	for _, run := range r.Runs {
		for i, s := range []Side{run.Direct, run.Gateway} {
			scen, load := "", ""
			if i == 0 {
				scen, load = run.Scenario, loadLabel(run)
			}
			gwCPU, gwRSS, emuCPU := "", "", ""
			if s.Gateway != nil {
				gwCPU, gwRSS = f3(s.Gateway.CPUPer1k), fmt.Sprintf("%.1f", s.Gateway.PeakRSSMB)
			}
			if s.Upstream != nil {
				emuCPU = f3(s.Upstream.CPUPer1k)
			}
			l := s.Latency
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t\n", scen, load, s.Target,
				s.SentRPS, s.AchievedRPS, s.Errors, f3(l.P50), f3(l.P90), f3(l.P99), f3(l.P999), gwCPU, gwRSS, emuCPU, s.OtherCPUCores)
		}
		o := run.Overhead
		fmt.Fprintf(tw, "\t\toverhead\t\t\t\t%s\t%s\t%s\t%s\t\t\t\t\t\n", sign(o.P50), sign(o.P90), sign(o.P99), sign(o.P999))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	var streams []Result
	for _, run := range r.Runs {
		if run.TTFBOverhead != nil {
			streams = append(streams, run)
		}
	}
	if len(streams) > 0 {
		fmt.Fprintf(w, "\nstreams: time to first data event and mean time between data events, ms\n\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tload\tttfb p50 direct\tgateway\t+\tttfb p99 direct\tgateway\t+\tinter-chunk direct\tgateway\t+\t")
		for _, run := range streams {
			d, g := run.Direct, run.Gateway
			dt, gt := orZero(d.TTFB), orZero(g.TTFB)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", run.Scenario, loadLabel(run),
				f3(dt.P50), f3(gt.P50), sign(run.TTFBOverhead.P50),
				f3(dt.P99), f3(gt.P99), sign(run.TTFBOverhead.P99),
				f3(d.InterChunkMs), f3(g.InterChunkMs), sign(run.InterChunkOverheadMs))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	var errs []string
	for _, run := range r.Runs {
		for _, s := range []Side{run.Direct, run.Gateway} {
			if e := errorSummary(s); e != "" {
				errs = append(errs, fmt.Sprintf("%s, %s, %s", run.Scenario, loadLabel(run), e))
			}
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nerrors:\n  %s\n", strings.Join(errs, "\n  "))
	}
	return nil
}

func orZero(l *Latency) Latency {
	if l == nil {
		return Latency{}
	}
	return *l
}

func f3(f float64) string { return fmt.Sprintf("%.3f", f) }

func sign(f float64) string { return fmt.Sprintf("%+.3f", f) }

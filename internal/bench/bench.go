// Package bench is Switchboard's overhead benchmark (DESIGN.md, issue 7): it
// sends the same load, in turns, directly to an upstream (the provider
// emulator) and through the gateway in front of it, and reports what the
// gateway adds: latency percentiles and their difference, achieved rate,
// errors, the gateway's CPU time per request and peak memory, and for streams
// the time to first event and the delay between events.
//
// Load is open loop at fixed rates (requests leave on schedule whatever the
// target does, and latency counts from the scheduled time, so a stalling
// target cannot hide its stall — no coordinated omission), plus a closed-loop
// run of N workers for the most requests per second each target sustains.
//
// `switchboard bench` wires it: by default the emulator and the gateway run
// as child processes so that /proc accounts their CPU and memory separately
// from the load generator's.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Scenario is one kind of request body.
type Scenario struct {
	Name        string // label in the report
	Stream      bool   // ask for a streamed answer
	PromptBytes int    // body size; small values give a short "Hello" prompt
}

// Scenarios returns the four standard scenarios: a small and a promptBytes
// (e.g. 50 KB) prompt, each non-streamed and streamed. promptBytes ≤ 0 leaves
// out the large ones.
func Scenarios(promptBytes int) []Scenario {
	s := []Scenario{{Name: "chat", PromptBytes: 0}}
	if promptBytes > 0 {
		s = append(s, Scenario{Name: "chat " + sizeLabel(promptBytes), PromptBytes: promptBytes})
	}
	s = append(s, Scenario{Name: "stream", Stream: true})
	if promptBytes > 0 {
		s = append(s, Scenario{Name: "stream " + sizeLabel(promptBytes), Stream: true, PromptBytes: promptBytes})
	}
	return s
}

func sizeLabel(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	if n >= 1000 {
		return fmt.Sprintf("%.0fKB", float64(n)/1000)
	}
	return fmt.Sprintf("%dB", n)
}

// Options configures [Run].
type Options struct {
	// Direct is the upstream's chat completions endpoint; Gateway the
	// gateway's. Their Client may be nil (see [Target]).
	Direct, Gateway Target
	// Scenarios are the bodies to send, in order; nil means Scenarios(51200).
	Scenarios []Scenario
	// Rates are the open-loop rates in requests per second; none skips the
	// open-loop runs.
	Rates []float64
	// Duration is how long each measured run sends; Warmup is sent before
	// each, at the same load, and not measured. Default 10s and 1s.
	Duration, Warmup time.Duration
	// Concurrency is the number of closed-loop workers; 0 skips the
	// closed-loop runs.
	Concurrency int
	// GatewayMeter and UpstreamMeter read the gateway's and the emulator's
	// process usage; nil when they share this process (in-process mode) or
	// run elsewhere, and then no CPU or memory is reported for them.
	GatewayMeter, UpstreamMeter Meter
	// Mode describes the set-up in the report ("subprocess", "in-process",
	// "external").
	Mode string
	// Progress, when non-nil, gets a line as each run starts.
	Progress io.Writer
}

// Report is the result of [Run]; its JSON form is what --json writes.
type Report struct {
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Runs     []Result  `json:"runs"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	Go       string `json:"go"`
	OS       string `json:"os"`
}

// Settings echoes the options that shaped the numbers.
type Settings struct {
	Mode        string    `json:"mode"`
	Rates       []float64 `json:"rates"`
	Duration    string    `json:"duration"`
	Warmup      string    `json:"warmup"`
	Concurrency int       `json:"concurrency"`
}

// Result is one load (a rate, or closed loop) of one scenario, against both
// targets.
type Result struct {
	Scenario    string  `json:"scenario"`
	Stream      bool    `json:"stream"`
	BodyBytes   int     `json:"body_bytes"`
	Load        string  `json:"load"` // "open" or "closed"
	Rate        float64 `json:"rate,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	Direct      Side    `json:"direct"`
	Gateway     Side    `json:"gateway"`
	// Overhead is gateway minus direct latency, per percentile, in ms.
	Overhead Latency `json:"overhead_ms"`
	// TTFBOverhead and InterChunkOverheadMs compare streams likewise.
	TTFBOverhead         *Latency `json:"ttfb_overhead_ms,omitempty"`
	InterChunkOverheadMs float64  `json:"inter_chunk_overhead_ms,omitempty"`
}

// Side is one target's result in a [Result].
type Side struct {
	Target       string   `json:"target"`
	Planned      int      `json:"planned"`
	Sent         int      `json:"sent"`
	OK           int      `json:"ok"`
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	SentRPS      float64  `json:"sent_rps"`
	AchievedRPS  float64  `json:"achieved_rps"` // answered without error per second
	// Latency is of the successful requests, from the scheduled send time
	// (open loop) or the send time (closed loop) until the body was read.
	Latency Latency `json:"latency_ms"`
	// TTFB is until the first SSE data event, for streams.
	TTFB *Latency `json:"ttfb_ms,omitempty"`
	// InterChunkMs is the mean time between SSE data events, for streams.
	InterChunkMs float64 `json:"inter_chunk_ms,omitempty"`
	// ScheduleLagP99Ms is how late the open-loop scheduler sent its requests
	// at p99: a sanity check on the load generator itself.
	ScheduleLagP99Ms float64 `json:"schedule_lag_p99_ms,omitempty"`
	// Gateway, Upstream and LoadGenerator are the processes' usage during the
	// measured part of the run; Gateway only on the gateway side.
	Gateway       *Usage `json:"gateway,omitempty"`
	Upstream      *Usage `json:"upstream,omitempty"`
	LoadGenerator *Usage `json:"load_generator,omitempty"`
	// OtherCPUCores is the CPU the rest of the machine used during the run,
	// in cores (machine busy time from /proc/stat minus the measured
	// processes', over the run's length): the kernel's share of loopback
	// networking plus any other process. Well above the direct run's value it
	// means the numbers were disturbed. A process without a meter (an
	// external gateway without --gateway-pid) counts as other.
	OtherCPUCores float64 `json:"other_cpu_cores"`
}

// Usage is a process's CPU during a run and its peak memory so far.
type Usage struct {
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPer1k is CPU seconds per 1000 answered requests, which is also
	// milliseconds per request.
	CPUPer1k  float64 `json:"cpu_s_per_1k_requests"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// Run runs every scenario: per rate, the direct target then the gateway,
// then the closed loop likewise.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Duration <= 0 {
		opts.Duration = 10 * time.Second
	}
	if opts.Warmup < 0 {
		opts.Warmup = 0
	}
	if opts.Scenarios == nil {
		opts.Scenarios = Scenarios(51200)
	}
	for _, t := range []*Target{&opts.Direct, &opts.Gateway} {
		if t.Client == nil {
			t.Client = NewClient(opts.Concurrency)
		}
	}
	rep := &Report{
		Started: time.Now().UTC().Truncate(time.Second),
		Machine: ThisMachine(),
		Settings: Settings{Mode: opts.Mode, Rates: opts.Rates, Duration: opts.Duration.String(),
			Warmup: opts.Warmup.String(), Concurrency: opts.Concurrency},
	}
	for _, sc := range opts.Scenarios {
		body := ChatBody(Model, sc.PromptBytes, sc.Stream)
		type load struct {
			rate        float64
			concurrency int
		}
		var loads []load
		for _, r := range opts.Rates {
			loads = append(loads, load{rate: r})
		}
		if opts.Concurrency > 0 {
			loads = append(loads, load{concurrency: opts.Concurrency})
		}
		for _, l := range loads {
			run := Result{Scenario: sc.Name, Stream: sc.Stream, BodyBytes: len(body), Load: "open", Rate: l.rate}
			if l.concurrency > 0 {
				run.Load, run.Rate, run.Concurrency = "closed", 0, l.concurrency
			}
			for _, t := range []*Target{&opts.Direct, &opts.Gateway} {
				if opts.Progress != nil {
					fmt.Fprintf(opts.Progress, "bench: %s, %s, %s\n", sc.Name, loadLabel(run), t.Name)
				}
				exec := func(d time.Duration) outcome {
					if l.concurrency > 0 {
						return closedLoop(ctx, t, body, sc.Stream, l.concurrency, d)
					}
					return openLoop(ctx, t, body, sc.Stream, l.rate, d)
				}
				if opts.Warmup > 0 {
					exec(opts.Warmup)
				}
				meters := []Meter{SelfMeter{}, opts.UpstreamMeter, opts.GatewayMeter}
				busy0, busyErr := machineBusy()
				before, err := readMeters(meters)
				if err != nil {
					return rep, err
				}
				o := exec(opts.Duration)
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				after, err := readMeters(meters)
				if err != nil {
					return rep, err
				}
				busy1, busyErr2 := machineBusy()
				s := o.side(t.Name, sc.Stream)
				s.LoadGenerator = usage(before[0], after[0], s.OK)
				s.Upstream = usage(before[1], after[1], s.OK)
				if t == &opts.Gateway {
					s.Gateway = usage(before[2], after[2], s.OK)
				}
				if busyErr == nil && busyErr2 == nil && o.elapsed > 0 {
					other := busy1 - busy0
					for i := range meters {
						if before[i] != nil && after[i] != nil {
							other -= after[i].CPU - before[i].CPU
						}
					}
					s.OtherCPUCores = round3(max(other, 0).Seconds() / o.elapsed.Seconds())
				}
				if t == &opts.Gateway {
					run.Gateway = s
				} else {
					run.Direct = s
				}
			}
			run.Overhead = run.Gateway.Latency.Sub(run.Direct.Latency)
			if run.Gateway.TTFB != nil && run.Direct.TTFB != nil {
				d := run.Gateway.TTFB.Sub(*run.Direct.TTFB)
				run.TTFBOverhead = &d
				run.InterChunkOverheadMs = round3(run.Gateway.InterChunkMs - run.Direct.InterChunkMs)
			}
			rep.Runs = append(rep.Runs, run)
		}
	}
	return rep, nil
}

func readMeters(ms []Meter) ([]*ProcUsage, error) {
	out := make([]*ProcUsage, len(ms))
	for i, m := range ms {
		if m == nil {
			continue
		}
		u, err := m.Read()
		if err != nil {
			return nil, err
		}
		out[i] = &u
	}
	return out, nil
}

func usage(before, after *ProcUsage, requests int) *Usage {
	if before == nil || after == nil {
		return nil
	}
	cpu := (after.CPU - before.CPU).Seconds()
	u := &Usage{CPUSeconds: round3(cpu), PeakRSSMB: round3(float64(after.PeakRSS) / (1 << 20))}
	if requests > 0 {
		u.CPUPer1k = round3(cpu / float64(requests) * 1000)
	}
	return u
}

// ThisMachine describes the machine the benchmark runs on.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func loadLabel(r Result) string {
	if r.Load == "closed" {
		return fmt.Sprintf("closed c=%d", r.Concurrency)
	}
	return fmt.Sprintf("open %g/s", r.Rate)
}

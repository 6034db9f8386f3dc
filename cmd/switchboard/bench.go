package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/bench"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/h1"
	"github.com/switchboard-gw/switchboard/internal/server"
)

const benchUsage = `Usage: switchboard bench [flags]

Measures what the gateway adds to every request: the same load is sent, in
turns, directly to the provider emulator and through a gateway in front of it.
By default both run as child processes of this one (the emulator as
"switchboard bench upstream", the gateway as "switchboard serve" with a
generated config: one openai provider, one model, a static key), so their CPU
and peak memory come from their own /proc accounting. See BENCHMARKS.md.

"switchboard bench baseline --upstream URL --listen ADDR" serves a bare
forwarding proxy (no features) to point --gateway at: the floor that Go's
HTTP stack sets on the machine.

`

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	if len(args) > 0 && args[0] == "upstream" {
		return benchUpstream(ctx, args[1:], stderr)
	}
	if len(args) > 0 && args[0] == "baseline" {
		return benchBaseline(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rates := fs.String("rates", "1000,3000", "open-loop rates, requests per second, comma-separated; \"\" skips the open loop")
	duration := fs.Duration("duration", 10*time.Second, "measured length of each run")
	warmup := fs.Duration("warmup", time.Second, "unmeasured load before each run")
	concurrency := fs.Int("concurrency", 64, "closed-loop workers; 0 skips the closed loop")
	promptBytes := fs.Int("prompt-bytes", 50<<10, "body size of the large-prompt scenarios; 0 leaves them out")
	scenarios := fs.String("scenarios", "chat,chat-large,stream,stream-large", "scenarios to run, comma-separated")
	chunkDelay := fs.Duration("chunk-delay", time.Millisecond, "emulator delay between stream events (started emulator only)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	upstreamURL := fs.String("upstream", "", "use this running emulator (base URL, e.g. http://127.0.0.1:9090) instead of starting one")
	gatewayURL := fs.String("gateway", "", "use this running gateway (base URL) instead of starting one; it must route model "+bench.Model+" to --upstream")
	gatewayKey := fs.String("key", bench.GatewayKey, "client key sent to the gateway")
	upstreamKey := fs.String("upstream-key", bench.UpstreamKey, "key sent directly to the upstream")
	gatewayPID := fs.Int("gateway-pid", 0, "with --gateway: its process id, to report its CPU and memory")
	upstreamPID := fs.Int("upstream-pid", 0, "with --upstream: its process id, to report its CPU")
	inProcess := fs.Bool("inprocess", false, "run the emulator and the gateway inside this process (no per-process CPU or memory)")
	logLevel := fs.String("gateway-log-level", "info", "log.level of the started gateway (info writes a request log line per request, as deployed)")
	logPath := fs.String("log", "", "file for the started processes' logs (default: a temporary file)")
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	rateList, err := parseRates(*rates)
	if err != nil {
		return err
	}
	scens, err := pickScenarios(*scenarios, *promptBytes)
	if err != nil {
		return err
	}
	if *gatewayURL != "" && *upstreamURL == "" {
		return errors.New("bench: --gateway needs --upstream, the upstream it forwards to, for the direct runs")
	}

	opts := bench.Options{
		Scenarios:   scens,
		Rates:       rateList,
		Duration:    *duration,
		Warmup:      *warmup,
		Concurrency: *concurrency,
		Progress:    stderr,
	}
	faults := ""
	if *chunkDelay > 0 {
		faults = "chunk_delay=" + chunkDelay.String()
	}

	if !*inProcess && (*upstreamURL == "" || *gatewayURL == "") && testing.Testing() {
		// os.Executable is the test binary: re-executing it would run the
		// tests again instead of the emulator or the gateway.
		return errors.New("bench: subprocess mode is not available in a test binary (it re-executes itself); use --inprocess, or --upstream and --gateway")
	}
	logFile, err := openBenchLog(*logPath)
	if err != nil {
		return err
	}
	defer func() {
		logFile.Close()
		if *logPath == "" && err == nil {
			os.Remove(logFile.Name()) // kept, and named in the error, when something failed
		}
	}()

	upBase, gwBase := strings.TrimRight(*upstreamURL, "/"), strings.TrimRight(*gatewayURL, "/")
	switch {
	case *inProcess:
		opts.Mode = "in-process"
		stop, up, gw, err := startInProcess(faults, *logLevel, logFile)
		if err != nil {
			return err
		}
		defer stop()
		if upBase == "" {
			upBase = up
		}
		if gwBase == "" {
			gwBase = gw
		}
	default:
		opts.Mode = "subprocess"
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find own executable: %w", err)
		}
		if upBase == "" {
			addr, err := freeLoopbackAddr()
			if err != nil {
				return err
			}
			p, err := bench.StartProcess(ctx, exe, []string{"bench", "upstream", "--listen", addr, "--faults", faults},
				"http://"+addr+"/v1/models", logFile)
			if err != nil {
				return err
			}
			defer p.Stop()
			upBase = "http://" + addr
			opts.UpstreamMeter = bench.PIDMeter(p.PID())
		}
		if gwBase == "" {
			addr, err := freeLoopbackAddr()
			if err != nil {
				return err
			}
			// A directory of its own: the gateway watches its config's
			// directory for changes, and in the shared temp directory other
			// processes' files would wake it during the measurement.
			cfgDir, err := os.MkdirTemp("", "switchboard-bench-config-")
			if err != nil {
				return fmt.Errorf("bench: config directory: %w", err)
			}
			defer os.RemoveAll(cfgDir)
			cfgPath := filepath.Join(cfgDir, "switchboard.yaml")
			yaml := bench.GatewayConfig(addr, upBase+"/v1", *logLevel)
			if _, err := config.Parse([]byte(yaml), cfgPath, func(string) (string, bool) { return "", false }); err != nil {
				return fmt.Errorf("bench: generated gateway config: %w", err)
			}
			if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
				return fmt.Errorf("bench: write gateway config: %w", err)
			}
			p, err := bench.StartProcess(ctx, exe, []string{"serve", "--config", cfgPath}, "http://"+addr+"/healthz", logFile)
			if err != nil {
				return err
			}
			defer p.Stop()
			gwBase = "http://" + addr
			opts.GatewayMeter = bench.PIDMeter(p.PID())
		} else {
			opts.Mode = "external"
		}
	}
	if *gatewayPID > 0 {
		opts.GatewayMeter = bench.PIDMeter(*gatewayPID)
	}
	if *upstreamPID > 0 {
		opts.UpstreamMeter = bench.PIDMeter(*upstreamPID)
	}
	opts.Direct = bench.Target{Name: "direct", URL: upBase + "/v1/chat/completions", Key: *upstreamKey}
	opts.Gateway = bench.Target{Name: "gateway", URL: gwBase + "/v1/chat/completions", Key: *gatewayKey}
	fmt.Fprintf(stderr, "bench: direct %s, gateway %s, logs in %s\n", upBase, gwBase, logFile.Name())

	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return fmt.Errorf("%w (process logs: %s)", err, logFile.Name())
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, rep.WriteJSON); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

// benchUpstream is the emulator child process of `switchboard bench`: like
// mock-upstream, but requiring the bench's upstream key and forgetting the
// requests it records, so a long run does not grow its memory.
func benchUpstream(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	faults := fs.String("faults", "", "fault spec applied to every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, err := bench.NewUpstream(*faults)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serveUntil(ctx, ln, h, 2*time.Second, false) // the emulator hijacks connections for some faults
}

// benchBaseline serves the floor of the measurement: a bare forwarding
// proxy (bench.NewBaseline) to a running emulator. Point `switchboard bench
// --gateway` at it to see what Go's HTTP stack alone costs on the machine.
func benchBaseline(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9091", "address to listen on")
	upstream := fs.String("upstream", "http://127.0.0.1:9090", "the emulator's base URL")
	client := fs.String("client", "h1", "upstream client: h1 (the gateway's own) or net/http")
	srv := fs.String("server", "h1", "client-facing server: h1 (the gateway's own) or net/http")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *client != "h1" && *client != "net/http" {
		return fmt.Errorf("bench baseline: --client %q: use h1 or net/http", *client)
	}
	if *srv != "h1" && *srv != "net/http" {
		return fmt.Errorf("bench baseline: --server %q: use h1 or net/http", *srv)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serveUntil(ctx, ln, bench.NewBaseline(*upstream, *client == "net/http"), 2*time.Second, *srv == "h1")
}

// serveUntil serves h on ln until ctx ends, then shuts down, giving
// in-flight requests grace to finish; own picks h1.Server over net/http's.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, own bool) error {
	var hs interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
	} = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if own {
		hs = &h1.Server{Handler: h}
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// startInProcess serves the emulator and the gateway from this process on
// loopback listeners and returns their base URLs.
func startInProcess(faults, logLevel string, logFile *os.File) (stop func(), upBase, gwBase string, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan struct{}
	stop = func() {
		cancel()
		for _, d := range done {
			<-d
		}
	}
	serveOn := func(h http.Handler, own bool) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("listen: %w", err)
		}
		d := make(chan struct{})
		done = append(done, d)
		go func() { defer close(d); _ = serveUntil(ctx, ln, h, 2*time.Second, own) }()
		return "http://" + ln.Addr().String(), nil
	}
	up, err := bench.NewUpstream(faults)
	if err == nil {
		upBase, err = serveOn(up, false)
	}
	if err != nil {
		stop()
		return nil, "", "", err
	}
	cfg, err := config.Parse([]byte(bench.GatewayConfig("127.0.0.1:0", upBase+"/v1", logLevel)), "bench.yaml",
		func(string) (string, bool) { return "", false })
	if err != nil {
		stop()
		return nil, "", "", fmt.Errorf("bench: generated gateway config: %w", err)
	}
	gw, err := server.New(cfg, server.Options{Logger: newLogger(cfg.Log, logFile), Simulator: simulator})
	if err == nil {
		gwBase, err = serveOn(gw, cfg.Server.HTTPServer != config.HTTPClientNetHTTP) // as serve serves it
	}
	if err != nil {
		stop()
		return nil, "", "", err
	}
	return stop, upBase, gwBase, nil
}

func openBenchLog(path string) (*os.File, error) {
	if path == "" {
		f, err := os.CreateTemp("", "switchboard-bench-*.log")
		if err != nil {
			return nil, fmt.Errorf("bench: log file: %w", err)
		}
		return f, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: log file: %w", err)
	}
	return f, nil
}

// freeLoopbackAddr finds a free loopback port for a child process. Another
// process could take it before the child listens; the child then fails to
// start and the benchmark says so.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("bench: --rates: %q is not a positive number", f)
		}
		out = append(out, r)
	}
	return out, nil
}

func pickScenarios(list string, promptBytes int) ([]bench.Scenario, error) {
	all := bench.Scenarios(promptBytes)
	byKey := map[string]bench.Scenario{}
	for _, s := range all {
		key := "chat"
		if s.Stream {
			key = "stream"
		}
		if s.PromptBytes > 0 {
			key += "-large"
		}
		byKey[key] = s
	}
	var out []bench.Scenario
	for k := range strings.SplitSeq(list, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		s, ok := byKey[k]
		if !ok {
			if strings.HasSuffix(k, "-large") && promptBytes <= 0 {
				continue // --prompt-bytes 0 turns the large ones off
			}
			return nil, fmt.Errorf("bench: --scenarios: unknown %q (chat, chat-large, stream, stream-large)", k)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("bench: --scenarios: none selected")
	}
	return out, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/eval"
)

const evalUsage = `Usage: switchboard eval --golden FILE --model A [--model B ...] [flags]

Runs a golden set of prompts against models (routes) served by a running
gateway and reports pass rate, latency and cost side by side. Every case is
sent to every model as a non-streaming POST {url}/v1/chat/completions.

The golden file is YAML (or JSON) — a list of cases:

  - name: capital                         # optional; default case-N, unique
    prompt: "What is the capital of Mexico?"   # one user message, or:
    # messages: [{role: user, content: "What is the capital of Mexico?"}]
    system: "Answer briefly."             # optional, sent first
    max_tokens: 64                        # optional
    temperature: 0                        # optional
    expect:                               # required; every one given must hold
      contains: ["Mexico City"]           # each appears (case-insensitive)
      not_contains: ["Paris"]             # none appears (case-insensitive)
      regex: "(?i)mexico\\s+city"         # Go regexp, case as written
      equals: "Mexico City."              # whole answer, exact after trimming space
      json: true                          # the answer parses as JSON

Unknown keys, a case without expect, and a case with both prompt and messages
(or neither) are errors naming the line and the case.

The report (stdout) has a row per model — cases, passed, pass rate, errors
(HTTP errors and failed requests), p50/p95 latency of the answered requests,
total tokens and total cost in USD — then a row per case with PASS, FAIL or
ERROR per model, the reasons listed below it. Cost is priced from the
upstream model the gateway names in its x-switchboard-model header; an
upstream model without a known price shows cost "?" and is left out of the
totals. --json also writes the report as JSON:
{"models": [...], "cases": [{"name", "results": {MODEL: {"pass", "reason",
"latency_ms", "tokens", "cost_usd", ...}}}]} (cost_usd null when unknown).

Exit status: 0 when every request was made, even if cases failed (failures
are results); non-zero when the golden file or the flags are invalid or the
gateway could not be reached at all.

Flags:
`

// modelList is a repeatable --model flag; a comma-separated value adds each.
type modelList []string

func (m *modelList) String() string { return strings.Join(*m, ",") }

func (m *modelList) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return errors.New("empty model name")
		}
		if !slices.Contains(*m, name) {
			*m = append(*m, name)
		}
	}
	return nil
}

func evalCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	golden := fs.String("golden", "", "golden file of cases, YAML or JSON (required)")
	var models modelList
	fs.Var(&models, "model", "model (route) to evaluate; repeat the flag to compare several (at least one)")
	url := fs.String("url", "", "gateway base URL (default http:// + server.listen of the config, else http://127.0.0.1:8080)")
	// The default is read after parsing, so --help never prints the key.
	key := fs.String("key", "", "client key sent as a bearer token (default $SWITCHBOARD_API_KEY, else none)")
	concurrency := fs.Int("concurrency", 4, "requests in flight at once")
	timeout := fs.Duration("timeout", 60*time.Second, "timeout of each request")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	configFlag := fs.String("config", "", "config file giving the default --url (default $SWITCHBOARD_CONFIG, else ./switchboard.yaml, else built-in defaults)")
	fs.Usage = func() { fmt.Fprint(stderr, evalUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("eval: unexpected argument %q", fs.Arg(0))
	}
	if *key == "" {
		*key = os.Getenv("SWITCHBOARD_API_KEY")
	}
	if *golden == "" {
		return errors.New("eval: --golden FILE is required (see switchboard eval --help)")
	}
	if len(models) == 0 {
		return errors.New("eval: at least one --model is required")
	}
	if *concurrency < 1 {
		return errors.New("eval: --concurrency must be at least 1")
	}
	if *timeout <= 0 {
		return errors.New("eval: --timeout must be positive")
	}
	cases, err := eval.Load(*golden)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	base := *url
	if base == "" {
		if base, err = gatewayURL(*configFlag); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "eval: %d cases × %d models against %s\n", len(cases), len(models), base)
	rep, err := eval.Run(ctx, eval.Options{
		URL:         base,
		Key:         *key,
		Models:      models,
		Cases:       cases,
		Golden:      *golden,
		Concurrency: *concurrency,
		Timeout:     *timeout,
	})
	if err != nil {
		return err
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, rep.WriteJSON); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
	}
	return nil
}

// gatewayURL is the base URL of the gateway the config (found like serve
// finds it) describes: its server.listen, with a wildcard host made
// loopback, https when it serves TLS.
func gatewayURL(configFlag string) (string, error) {
	cfg := config.Default()
	if path := config.Resolve(configFlag); path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return "", err
		}
	}
	listen := cfg.Server.Listen
	if listen == "" {
		listen = config.DefaultListen
	}
	if host, port, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			listen = net.JoinHostPort("127.0.0.1", port)
		}
	}
	scheme := "http"
	if cfg.Server.TLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + listen, nil
}

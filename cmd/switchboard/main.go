// Command switchboard is the Switchboard LLM gateway: `switchboard serve`
// runs it, `switchboard mock-upstream` runs the provider emulator, and
// `switchboard version` says what was built. See DESIGN.md §1 and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Switchboard is an LLM API gateway.

Usage:
  switchboard serve [--config FILE] [--listen ADDR]   run the gateway
  switchboard mock-upstream [--listen ADDR] [--faults SPEC]
                                                      run the provider emulator
  switchboard keys create|list|revoke|rotate          manage virtual keys (switchboard keys for help)
  switchboard version                                 print version and build info
  switchboard bench [--rates 1000,3000] [--duration 10s] [--json FILE]
                                                      measure the gateway's overhead (BENCHMARKS.md)
  switchboard eval --golden FILE --model A [--model B] [--url URL] [--json FILE]
                                                      run a golden set of prompts against models

Config comes from --config, else $SWITCHBOARD_CONFIG, else ./switchboard.yaml,
else built-in defaults (listen on 127.0.0.1:8080, one model "demo" served by the
built-in simulator). See switchboard.example.yaml for every setting.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "switchboard:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, stderr)
	case "mock-upstream":
		return mockUpstream(ctx, rest, stderr)
	case "version":
		return version(stdout)
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "keys":
		return keysCmd(ctx, rest, stdout, stderr)
	case "eval":
		return evalCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

func mockUpstream(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mock-upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	faults := fs.String("faults", "", "fault spec applied to every request without an x-mock-fault header")
	apiKey := fs.String("api-key", "", "require this key (Authorization: Bearer, or api-key for Azure paths)")
	reply := fs.String("reply", "", "assistant reply text (default: the fixture's)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: switchboard mock-upstream [--listen ADDR] [--faults SPEC] [--api-key KEY] [--reply TEXT]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nFault spec items (also per request in the x-mock-fault header):\n%s\n", emulator.Describe())
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	emu, err := emulator.New(emulator.Options{Faults: *faults, APIKey: *apiKey, Reply: *reply, NoRecord: true})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	logger.Info("mock upstream listening", "url", "http://"+ln.Addr().String(),
		"openai_base_url", "http://"+ln.Addr().String()+"/v1", "faults", *faults)
	return serveUntil(ctx, ln, emu, 5*time.Second, false) // faults hijack connections: net/http
}

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "devel"
	}
	return bi.Main.Version
}

func version(w io.Writer) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "switchboard devel")
		return nil
	}
	fmt.Fprintf(w, "switchboard %s\n%s\n", buildVersion(), bi.GoVersion)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH":
			fmt.Fprintf(w, "%s=%s\n", s.Key, s.Value)
		}
	}
	return nil
}

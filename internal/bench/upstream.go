package bench

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// Names the benchmark configures on both sides.
const (
	// Model is the model name sent to both targets; the gateway maps it to
	// the same upstream model, so both receive byte-identical bodies.
	Model = "gpt-4o-mini"
	// GatewayKey is the static client key the benchmark's gateway requires.
	GatewayKey = "sb-bench-client-key-0123456789"
	// UpstreamKey is the provider key the emulator requires; direct requests
	// send it and the gateway adds it upstream.
	UpstreamKey = "sk-bench-upstream-key-0123456789"
)

// NewUpstream returns the benchmark's upstream: the provider emulator
// requiring [UpstreamKey], with faults applied to every request (e.g.
// "chunk_delay=1ms", which delays only stream events), and not recording
// requests, so its memory stays flat over hundreds of thousands of them.
func NewUpstream(faults string) (http.Handler, error) {
	emu, err := emulator.New(emulator.Options{Faults: faults, APIKey: UpstreamKey, NoRecord: true})
	if err != nil {
		return nil, fmt.Errorf("bench: emulator: %w", err)
	}
	return emu, nil
}

// GatewayConfig returns the YAML of the benchmark's gateway: listening on
// listen, one openai provider at upstreamBase (the emulator's /v1 URL) with
// [UpstreamKey], one model [Model], and one static key [GatewayKey], so auth
// is on as in production. logLevel sets log.level; at "info" (the default of
// a real deployment) the gateway writes its request log line for every
// request.
func GatewayConfig(listen, upstreamBase, logLevel string) string {
	return fmt.Sprintf(`# Written by switchboard bench.
server:
  listen: %s
  shutdown_timeout: 2s
log:
  level: %s
store:
  dsn: %s
providers:
  - name: emulator
    type: openai
    base_url: %s
    api_keys: [%s]
models:
  - name: %s
    targets: [{provider: emulator, model: %s}]
keys:
  - {name: bench, key: %s, rpm: 1000000000}
`, strconv.Quote(listen), strconv.Quote(logLevel),
		// The store is real (usage records are part of the overhead), but
		// kept out of the working directory.
		strconv.Quote(filepath.Join(os.TempDir(), "switchboard-bench", "switchboard.db")), strconv.Quote(upstreamBase),
		strconv.Quote(UpstreamKey), strconv.Quote(Model), strconv.Quote(Model), strconv.Quote(GatewayKey))
}

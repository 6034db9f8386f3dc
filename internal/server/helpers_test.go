package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/h1"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/telemetry"
)

// Secrets used by the tests; none may ever appear in a response or log line.
const (
	upstreamKey = "sk-test-UPSTREAM-secret-0123456789"
	azureKey    = "azure-test-SECRET-abcdef987654"
	gatewayKey  = "sb-test-client-key-42"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// upstream is an emulator on a real socket, with its finished requests
// observable.
type upstream struct {
	*emulator.Emulator
	URL  string
	done chan emulator.Recorded
}

func newUpstream(t *testing.T, opts emulator.Options) *upstream {
	t.Helper()
	u := &upstream{done: make(chan emulator.Recorded, 1024)}
	opts.OnDone = func(r emulator.Recorded) {
		select {
		case u.done <- r:
		default:
		}
	}
	emu, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	u.Emulator = emu
	ts := httptest.NewServer(emu)
	t.Cleanup(ts.Close)
	u.URL = ts.URL
	return u
}

// gateway is a Switchboard server under test.
type gateway struct {
	*server.Server
	URL string
	log *syncBuffer
}

// newGateway starts a gateway from YAML; "{{UP}}" in it is replaced by up's
// URL and "{{UPKEY}}"/"{{AZKEY}}" by the upstream secrets (through env vars,
// as a user would write them).
func newGateway(t *testing.T, yaml string, up *upstream) *gateway {
	t.Helper()
	cfg := parseConfig(t, yaml, up)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The request line goes through the LineWriter, as in serve.
	srv, err := server.New(cfg, server.Options{Logger: logger, RequestLog: telemetry.NewLineWriter(logs),
		Simulator: func(faults string) (http.Handler, error) {
			return emulator.New(emulator.Options{Faults: faults})
		}})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	// Served as serve serves a plaintext listener: through h1.Server (other
	// tests start net/http's server, so both carry the gateway).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	hs := &h1.Server{Handler: srv, ErrorLog: logger}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return &gateway{Server: srv, URL: "http://" + ln.Addr().String(), log: logs}
}

func parseConfig(t *testing.T, yaml string, up *upstream) *config.Config {
	t.Helper()
	if up != nil {
		yaml = strings.ReplaceAll(yaml, "{{UP}}", up.URL)
	}
	env := map[string]string{"UPSTREAM_KEY": upstreamKey, "AZURE_KEY": azureKey, "GATEWAY_KEY": gatewayKey}
	cfg, err := config.Parse([]byte(yaml), "test.yaml", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	return cfg
}

// basicConfig has one OpenAI-compatible and one Azure provider on the same
// emulator and a few models.
const basicConfig = `
providers:
  - name: oai
    type: openai
    base_url: "{{UP}}/v1"
    api_keys: ["${UPSTREAM_KEY}"]
    timeouts: {connect: 2s, first_byte: 2s, total: 10s}
    extra_params: [top_k]
  - name: az
    type: azure
    base_url: "{{UP}}"
    api_keys: ["${AZURE_KEY}"]
    api_version: "2024-10-21"
  - name: sim
    type: simulator
models:
  - name: gpt-4o
    targets: [{provider: oai, model: gpt-4o-2024-08-06}]
    retries: 0
  - name: azure-4o
    targets: [{provider: az, model: gpt4o-prod}]
  - name: embed
    targets: [{provider: oai, model: text-embedding-3-small}]
  - name: demo
    targets: [{provider: sim, model: demo}]
`

// call is a raw HTTP call to the gateway.
type result struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, body string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// lastRequest waits for the upstream to finish a request and returns it.
func (u *upstream) next(t *testing.T) emulator.Recorded {
	t.Helper()
	select {
	case r := <-u.done:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("upstream saw no request within 5s")
		return emulator.Recorded{}
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

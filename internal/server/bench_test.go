package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/bench"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/h1"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// The benchmarks send the bodies of `switchboard bench` (internal/bench) one
// at a time, directly to an in-process emulator on httptest and through a
// gateway (httptest, auth on, request log at info into io.Discard) in front
// of it. Each op is a whole HTTP exchange, so ns/op and allocs/op include
// the client, the emulator and the loopback hops: the gateway's own cost is
// the gateway sub-benchmark minus the direct one. Compare runs with
// benchstat; BENCHMARKS.md has the latest numbers and profile.

// benchPair starts the emulator and a gateway routing bench.Model to it, and
// returns their chat completions URLs.
func benchPair(b *testing.B) (direct, gateway string) {
	b.Helper()
	up, err := bench.NewUpstream("")
	if err != nil {
		b.Fatal(err)
	}
	ups := httptest.NewServer(up)
	b.Cleanup(ups.Close)
	cfg, err := config.Parse([]byte(bench.GatewayConfig("127.0.0.1:0", ups.URL+"/v1", "info")), "bench.yaml",
		func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	// A real store, as in production: usage records and prompt hashes are
	// part of the cost measured.
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cfg.Usage.SpoolDir = filepath.Join(b.TempDir(), "spool")
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: st})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	// Served as serve serves a plaintext listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gws := &h1.Server{Handler: srv}
	go gws.Serve(ln)
	b.Cleanup(func() { gws.Close() })
	return ups.URL + "/v1/chat/completions", "http://" + ln.Addr().String() + "/v1/chat/completions"
}

// benchChat runs b.N requests of body to url, reading each answer whole.
func benchChat(b *testing.B, url, key string, body []byte) {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, read error %v", resp.StatusCode, err)
		}
	}
}

func benchBoth(b *testing.B, stream bool) {
	direct, gateway := benchPair(b)
	for _, size := range []struct {
		name  string
		bytes int
	}{{"small", 0}, {"50KiB", 50 << 10}} {
		body := bench.ChatBody(bench.Model, size.bytes, stream)
		b.Run(size.name+"/direct", func(b *testing.B) { benchChat(b, direct, bench.UpstreamKey, body) })
		b.Run(size.name+"/gateway", func(b *testing.B) { benchChat(b, gateway, bench.GatewayKey, body) })
	}
}

// BenchmarkChatPassthrough is a non-streamed chat completion: the gateway's
// pass-through path (auth, one scanning pass, the model rewrite, the upstream
// hop, the relay and the request log line).
func BenchmarkChatPassthrough(b *testing.B) { benchBoth(b, false) }

// BenchmarkChatStream is a streamed chat completion (12 SSE events, usage
// included) with no delay between events: the stream copier's cost per
// stream.
func BenchmarkChatStream(b *testing.B) { benchBoth(b, true) }

package bench_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/bench"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/server"
)

// TestRunSmoke runs the whole benchmark in-process for a few hundred
// milliseconds: the emulator and the gateway on httptest servers, the
// generated gateway config, every kind of run. It asserts only that numbers
// came out and nothing failed; it makes no claim about how fast anything is.
func TestRunSmoke(t *testing.T) {
	up, err := bench.NewUpstream("chunk_delay=1ms")
	if err != nil {
		t.Fatal(err)
	}
	ups := httptest.NewServer(up)
	defer ups.Close()
	cfg, err := config.Parse([]byte(bench.GatewayConfig("127.0.0.1:0", ups.URL+"/v1", "info")), "bench.yaml",
		func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	gw, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gws := httptest.NewServer(gw)
	defer gws.Close()

	rep, err := bench.Run(context.Background(), bench.Options{
		Direct:      bench.Target{Name: "direct", URL: ups.URL + "/v1/chat/completions", Key: bench.UpstreamKey},
		Gateway:     bench.Target{Name: "gateway", URL: gws.URL + "/v1/chat/completions", Key: bench.GatewayKey},
		Scenarios:   []bench.Scenario{{Name: "chat"}, {Name: "stream 2KB", Stream: true, PromptBytes: 2000}},
		Rates:       []float64{200},
		Duration:    200 * time.Millisecond,
		Warmup:      0,
		Concurrency: 2,
		Mode:        "in-process",
		// This process stands in for the gateway's: the /proc path is exercised.
		GatewayMeter: bench.PIDMeter(os.Getpid()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 4 {
		t.Fatalf("got %d runs, want 4 (2 scenarios × (1 rate + closed loop))", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		for _, s := range []bench.Side{r.Direct, r.Gateway} {
			if s.Errors != 0 || s.OK == 0 || s.Latency.P50 <= 0 || s.AchievedRPS <= 0 {
				t.Errorf("%s %s %s: ok %d, errors %d %q, p50 %v, %v/s", r.Scenario, r.Load, s.Target,
					s.OK, s.Errors, s.ErrorSamples, s.Latency.P50, s.AchievedRPS)
			}
			if r.Stream && (s.TTFB == nil || s.TTFB.P50 <= 0 || s.InterChunkMs <= 0) {
				t.Errorf("%s %s %s: no stream timings: ttfb %v, inter-chunk %v", r.Scenario, r.Load, s.Target, s.TTFB, s.InterChunkMs)
			}
			if s.LoadGenerator == nil {
				t.Errorf("%s %s %s: no load generator usage", r.Scenario, r.Load, s.Target)
			}
		}
		if r.Gateway.Gateway == nil || r.Gateway.Gateway.PeakRSSMB <= 0 {
			t.Errorf("%s %s: gateway usage %+v, want a peak RSS", r.Scenario, r.Load, r.Gateway.Gateway)
		}
		if r.Direct.Gateway != nil {
			t.Errorf("%s %s: direct side has gateway usage", r.Scenario, r.Load)
		}
	}
	if err := rep.WriteTable(io.Discard); err != nil {
		t.Error(err)
	}
}

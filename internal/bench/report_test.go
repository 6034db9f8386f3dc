package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
)

func sampleReport() *Report {
	ttfbD, ttfbG := Latency{P50: 1.1, P99: 1.5}, Latency{P50: 1.2, P99: 1.9}
	ttfbO := ttfbG.Sub(ttfbD)
	return &Report{
		Machine:  Machine{CPUs: 2, CPUModel: "Test CPU", Go: "go1.26", OS: "linux/amd64"},
		Settings: Settings{Mode: "subprocess", Rates: []float64{1000}, Duration: "10s", Warmup: "1s", Concurrency: 64},
		Runs: []Result{{
			Scenario: "stream", Stream: true, BodyBytes: 120, Load: "open", Rate: 1000,
			Direct: Side{Target: "direct", Planned: 10, Sent: 10, OK: 10, SentRPS: 1000, AchievedRPS: 1000,
				Latency: Latency{P50: 0.2, P90: 0.3, P99: 0.5, P999: 0.9}, TTFB: &ttfbD, InterChunkMs: 1.05,
				Upstream: &Usage{CPUSeconds: 1, CPUPer1k: 0.1, PeakRSSMB: 12}},
			Gateway: Side{Target: "gateway", Planned: 10, Sent: 10, OK: 9, Errors: 1, ErrorSamples: []string{"status 502: boom"},
				SentRPS: 1000, AchievedRPS: 900, Latency: Latency{P50: 0.35, P90: 0.5, P99: 0.9, P999: 2}, TTFB: &ttfbG, InterChunkMs: 1.07,
				Gateway: &Usage{CPUSeconds: 1.5, CPUPer1k: 0.15, PeakRSSMB: 30}},
			Overhead:             Latency{P50: 0.15, P90: 0.2, P99: 0.4, P999: 1.1},
			TTFBOverhead:         &ttfbO,
			InterChunkOverheadMs: 0.02,
		}},
	}
}

// TestReportJSONShape pins the field names other tools read.
func TestReportJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("WriteJSON wrote invalid JSON: %v", err)
	}
	for _, path := range []string{
		"started", "machine.cpus", "machine.cpu_model", "settings.mode", "settings.rates", "settings.concurrency",
		"runs.0.scenario", "runs.0.stream", "runs.0.load", "runs.0.rate",
		"runs.0.direct.latency_ms.p50", "runs.0.direct.latency_ms.p90", "runs.0.direct.latency_ms.p99", "runs.0.direct.latency_ms.p99_9",
		"runs.0.direct.achieved_rps", "runs.0.direct.errors", "runs.0.direct.ttfb_ms.p50", "runs.0.direct.inter_chunk_ms",
		"runs.0.direct.upstream.cpu_s_per_1k_requests",
		"runs.0.gateway.gateway.cpu_s_per_1k_requests", "runs.0.gateway.gateway.peak_rss_mb", "runs.0.gateway.error_samples",
		"runs.0.overhead_ms.p50", "runs.0.overhead_ms.p99", "runs.0.ttfb_overhead_ms.p50", "runs.0.inter_chunk_overhead_ms",
	} {
		if _, ok := lookup(got, path); !ok {
			t.Errorf("JSON has no %s:\n%s", path, buf.String())
		}
	}
	if v, _ := lookup(got, "runs.0.direct.gateway"); v != nil {
		t.Errorf("direct side reports gateway usage %v; want none", v)
	}
}

// lookup follows a dotted path of object keys and array indexes.
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			if k != "0" || len(x) == 0 {
				return nil, false
			}
			v = x[0]
		default:
			return nil, false
		}
	}
	return v, true
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Test CPU", "overhead", "+0.150", "open 1000/s", "0.150", "30.0", "ttfb p50", "+0.020", "status 502: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestGatewayConfigIsValid(t *testing.T) {
	yaml := GatewayConfig("127.0.0.1:18080", "http://127.0.0.1:19090/v1", "info")
	cfg, err := config.Parse([]byte(yaml), "bench.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config.Parse(GatewayConfig) = %v\n%s", err, yaml)
	}
	if cfg.Server.Listen != "127.0.0.1:18080" || len(cfg.Providers) != 1 || cfg.Providers[0].BaseURL != "http://127.0.0.1:19090/v1" ||
		len(cfg.Models) != 1 || cfg.Models[0].Name != Model || len(cfg.Keys) != 1 || cfg.Keys[0].Key != GatewayKey {
		t.Errorf("GatewayConfig parsed to %+v", cfg)
	}
}

func TestScenarios(t *testing.T) {
	got := Scenarios(51200)
	if len(got) != 4 || got[1].Name != "chat 50KiB" || !got[3].Stream || got[3].PromptBytes != 51200 {
		t.Errorf("Scenarios(51200) = %+v", got)
	}
	if got := Scenarios(0); len(got) != 2 {
		t.Errorf("Scenarios(0) = %+v, want the two small ones", got)
	}
}

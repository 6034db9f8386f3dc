package telemetry

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs the handler and parses the text exposition format.
func scrape(t testing.TB, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: content type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// lbl builds a label set from "name", "value" pairs.
func lbl(kv ...string) map[string]string {
	out := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// find returns the sample of family name whose label set is exactly want.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, mt := range f.GetMetric() {
		if len(mt.GetLabel()) != len(want) {
			continue
		}
		ok := true
		for _, lp := range mt.GetLabel() {
			if v, found := want[lp.GetName()]; !found || v != lp.GetValue() {
				ok = false
				break
			}
		}
		if ok {
			return mt
		}
	}
	return nil
}

func describe(fams map[string]*dto.MetricFamily, name string) string {
	f := fams[name]
	if f == nil {
		return "(family absent)"
	}
	var rows []string
	for _, mt := range f.GetMetric() {
		var ls []string
		for _, lp := range mt.GetLabel() {
			ls = append(ls, lp.GetName()+"="+lp.GetValue())
		}
		rows = append(rows, "{"+strings.Join(ls, ",")+"}")
	}
	sort.Strings(rows)
	return strings.Join(rows, " ")
}

type kind int

const (
	counter kind = iota
	gauge
	histCount
	histSum
	absent    // no sample with exactly these labels
	famAbsent // no family at all
)

// bucket asserts a histogram's cumulative count at upper bound le.
type bucket struct {
	le    float64
	count uint64
}

type want struct {
	name    string
	labels  map[string]string
	kind    kind
	value   float64
	buckets []bucket
}

func check(t *testing.T, fams map[string]*dto.MetricFamily, w want) {
	t.Helper()
	if w.kind == famAbsent {
		if f := fams[w.name]; f != nil {
			t.Errorf("%s: family present, want absent: %s", w.name, describe(fams, w.name))
		}
		return
	}
	mt := find(fams, w.name, w.labels)
	if w.kind == absent {
		if mt != nil {
			t.Errorf("%s%v: present, want absent", w.name, w.labels)
		}
		return
	}
	if mt == nil {
		t.Errorf("%s%v: missing; have %s", w.name, w.labels, describe(fams, w.name))
		return
	}
	var got float64
	switch w.kind {
	case counter:
		got = mt.GetCounter().GetValue()
	case gauge:
		got = mt.GetGauge().GetValue()
	case histCount:
		got = float64(mt.GetHistogram().GetSampleCount())
	case histSum:
		got = mt.GetHistogram().GetSampleSum()
	}
	if math.Abs(got-w.value) > 1e-9 {
		t.Errorf("%s%v kind %d = %v, want %v", w.name, w.labels, w.kind, got, w.value)
	}
	for _, b := range w.buckets {
		found := false
		for _, hb := range mt.GetHistogram().GetBucket() {
			if hb.GetUpperBound() == b.le {
				found = true
				if hb.GetCumulativeCount() != b.count {
					t.Errorf("%s%v bucket le=%v = %d, want %d", w.name, w.labels, b.le, hb.GetCumulativeCount(), b.count)
				}
			}
		}
		if !found {
			t.Errorf("%s%v: no bucket le=%v", w.name, w.labels, b.le)
		}
	}
}

const chat = "/v1/chat/completions"

func TestMetrics(t *testing.T) {
	okReq := Request{
		Endpoint: chat, Model: "gpt-4o", Provider: "openai", Team: "search",
		Status: 200, Latency: 1500 * time.Millisecond, Upstream: 1200 * time.Millisecond,
		InputTokens: 100, OutputTokens: 50, CachedTokens: 20, CostUSD: 0.0125, Attempts: 1,
	}
	tests := []struct {
		name    string
		observe func(m *Metrics)
		want    []want
	}{
		{
			name: "success non-stream",
			observe: func(m *Metrics) {
				m.ObserveRequest(okReq)
				m.ObserveRequest(okReq)
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "search", "status", "200", "error_class", "none"), value: 2},
				{name: "switchboard_request_duration_seconds", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "stream", "false"), kind: histCount, value: 2,
					buckets: []bucket{{1, 0}, {2.5, 2}, {120, 2}}},
				{name: "switchboard_request_duration_seconds", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "stream", "false"), kind: histSum, value: 3},
				{name: "switchboard_upstream_duration_seconds", labels: lbl("provider", "openai", "model", "gpt-4o"), kind: histCount, value: 2},
				{name: "switchboard_upstream_duration_seconds", labels: lbl("provider", "openai", "model", "gpt-4o"), kind: histSum, value: 2.4},
				{name: "switchboard_tokens_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "search", "direction", "input"), value: 200},
				{name: "switchboard_tokens_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "search", "direction", "output"), value: 100},
				{name: "switchboard_tokens_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "search", "direction", "cached"), value: 40},
				{name: "switchboard_cost_usd_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "search"), value: 0.025},
				{name: "switchboard_time_to_first_token_seconds", kind: famAbsent},
				{name: "switchboard_refused_total", kind: famAbsent},
				{name: "switchboard_retries_total", kind: famAbsent}, // Attempts is not a retry count
			},
		},
		{
			name: "success stream",
			observe: func(m *Metrics) {
				r := okReq
				r.Stream, r.Latency, r.TTFT = true, 4*time.Second, 300*time.Millisecond
				m.ObserveRequest(r)
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "search", "status", "200", "error_class", "none"), value: 1},
				{name: "switchboard_request_duration_seconds", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "stream", "true"), kind: histSum, value: 4},
				{name: "switchboard_request_duration_seconds", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "stream", "false"), kind: absent},
				{name: "switchboard_time_to_first_token_seconds", labels: lbl("model", "gpt-4o", "provider", "openai"), kind: histCount, value: 1,
					buckets: []bucket{{0.2, 0}, {0.3, 1}}},
				{name: "switchboard_time_to_first_token_seconds", labels: lbl("model", "gpt-4o", "provider", "openai"), kind: histSum, value: 0.3},
			},
		},
		{
			name: "upstream error",
			observe: func(m *Metrics) {
				m.ObserveRequest(Request{Endpoint: chat, Model: "claude", Provider: "anthropic", Team: "search",
					Status: 502, ErrorClass: "server_error", Latency: 2 * time.Second, Upstream: 2 * time.Second, Attempts: 2})
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "claude", "provider", "anthropic", "team", "search", "status", "502", "error_class", "server_error"), value: 1},
				{name: "switchboard_upstream_duration_seconds", labels: lbl("provider", "anthropic", "model", "claude"), kind: histSum, value: 2},
				{name: "switchboard_tokens_total", labels: lbl("model", "claude", "provider", "anthropic", "team", "search", "direction", "output"), value: 0},
				{name: "switchboard_cost_usd_total", labels: lbl("model", "claude", "provider", "anthropic", "team", "search"), value: 0},
			},
		},
		{
			name: "refused rate_limit",
			observe: func(m *Metrics) {
				for range 3 {
					m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Team: "search", Status: 429,
						ErrorClass: "rate_limit", Refused: "rate_limit", Latency: time.Millisecond})
				}
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "none", "team", "search", "status", "429", "error_class", "rate_limit"), value: 3},
				{name: "switchboard_refused_total", labels: lbl("reason", "rate_limit", "team", "search"), value: 3},
				{name: "switchboard_request_duration_seconds", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "none", "stream", "false"), kind: histCount, value: 3,
					buckets: []bucket{{0.005, 3}}},
				// No provider answered: no upstream or usage series at all.
				{name: "switchboard_upstream_duration_seconds", kind: famAbsent},
				{name: "switchboard_tokens_total", kind: famAbsent},
				{name: "switchboard_cost_usd_total", kind: famAbsent},
			},
		},
		{
			name: "refused budget",
			observe: func(m *Metrics) {
				m.ObserveRequest(Request{Endpoint: "/v1/embeddings", Status: 402, ErrorClass: "budget", Refused: "budget"})
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", "/v1/embeddings", "model", "unknown", "provider", "none", "team", "none", "status", "402", "error_class", "budget"), value: 1},
				{name: "switchboard_refused_total", labels: lbl("reason", "budget", "team", "none"), value: 1},
				{name: "switchboard_refused_total", labels: lbl("reason", "rate_limit", "team", "none"), kind: absent},
			},
		},
		{
			name: "cache hit",
			observe: func(m *Metrics) {
				m.Cache("gpt-4o", false)
				m.ObserveRequest(okReq)
				m.Cache("gpt-4o", true)
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Team: "search", Status: 200,
					CacheHit: true, Latency: 2 * time.Millisecond})
			},
			want: []want{
				{name: "switchboard_cache_requests_total", labels: lbl("model", "gpt-4o", "result", "hit"), value: 1},
				{name: "switchboard_cache_requests_total", labels: lbl("model", "gpt-4o", "result", "miss"), value: 1},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "none", "team", "search", "status", "200", "error_class", "none"), value: 1},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "search", "status", "200", "error_class", "none"), value: 1},
				{name: "switchboard_upstream_duration_seconds", labels: lbl("provider", "openai", "model", "gpt-4o"), kind: histCount, value: 1},
			},
		},
		{
			name: "retry",
			observe: func(m *Metrics) {
				m.Retry("openai", "rate_limit")
				m.Retry("openai", "rate_limit")
				m.Retry("openai", "timeout")
				m.Retry("", "")
				r := okReq
				r.Attempts = 4
				m.ObserveRequest(r)
			},
			want: []want{
				{name: "switchboard_retries_total", labels: lbl("provider", "openai", "class", "rate_limit"), value: 2},
				{name: "switchboard_retries_total", labels: lbl("provider", "openai", "class", "timeout"), value: 1},
				{name: "switchboard_retries_total", labels: lbl("provider", "none", "class", "unknown"), value: 1},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "search", "status", "200", "error_class", "none"), value: 1},
			},
		},
		{
			name: "fallback",
			observe: func(m *Metrics) {
				m.Fallback("gpt-4o", "claude")
				r := okReq
				r.Provider, r.Fallback = "anthropic", true
				m.ObserveRequest(r)
			},
			want: []want{
				{name: "switchboard_fallbacks_total", labels: lbl("from", "gpt-4o", "to", "claude"), value: 1},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "anthropic", "team", "search", "status", "200", "error_class", "none"), value: 1},
			},
		},
		{
			name: "client closed, no usage, bad values",
			observe: func(m *Metrics) {
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai", Status: 499, ErrorClass: "client",
					InputTokens: -5, OutputTokens: 7, CostUSD: math.NaN()})
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai", Status: 499, ErrorClass: "client",
					CostUSD: math.Inf(1)})
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "none", "status", "499", "error_class", "client"), value: 2},
				{name: "switchboard_tokens_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "none", "direction", "input"), value: 0},
				{name: "switchboard_tokens_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "none", "direction", "output"), value: 7},
				{name: "switchboard_cost_usd_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "none"), value: 0},
			},
		},
		{
			name: "usage without a provider",
			observe: func(m *Metrics) {
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Status: 200, CacheHit: true, OutputTokens: 9, Upstream: time.Second})
			},
			want: []want{
				{name: "switchboard_tokens_total", labels: lbl("model", "gpt-4o", "provider", "none", "team", "none", "direction", "output"), value: 9},
				{name: "switchboard_upstream_duration_seconds", labels: lbl("provider", "none", "model", "gpt-4o"), kind: histSum, value: 1},
			},
		},
		{
			name: "gauges and build info",
			observe: func(m *Metrics) {
				m.InFlight(1)
				m.InFlight(1)
				m.InFlight(1)
				m.InFlight(-1)
				m.UpstreamInFlight("openai", 1)
				m.UpstreamInFlight("openai", 1)
				m.UpstreamInFlight("openai", -1)
				m.UpstreamInFlight("anthropic", 1)
				m.UpstreamInFlight("anthropic", -1)
				m.SetBuildInfo("v1.0.0")
				m.SetBuildInfo("v1.1.0")
			},
			want: []want{
				{name: "switchboard_in_flight_requests", labels: lbl(), kind: gauge, value: 2},
				{name: "switchboard_upstream_in_flight_requests", labels: lbl("provider", "openai"), kind: gauge, value: 1},
				{name: "switchboard_upstream_in_flight_requests", labels: lbl("provider", "anthropic"), kind: gauge, value: 0},
				{name: "switchboard_build_info", labels: lbl("version", "v1.1.0"), kind: gauge, value: 1},
				{name: "switchboard_build_info", labels: lbl("version", "v1.0.0"), kind: absent},
			},
		},
		{
			name:    "no circuit source",
			observe: func(m *Metrics) {},
			want: []want{
				{name: "switchboard_circuit_state", kind: famAbsent},
				{name: "switchboard_in_flight_requests", labels: lbl(), kind: gauge, value: 0},
			},
		},
		{
			name: "circuit states from the callback",
			observe: func(m *Metrics) {
				m.SetCircuitSource(func() []Circuit {
					return []Circuit{
						{Provider: "openai", Model: "gpt-4o", State: 0},
						{Provider: "openai", Model: "gpt-4o-mini", State: 1},
						{Provider: "anthropic", Model: "claude", State: 2},
						{Provider: "anthropic", Model: "claude", State: 0}, // duplicate: dropped, scrape still works
					}
				})
			},
			want: []want{
				{name: "switchboard_circuit_state", labels: lbl("provider", "openai", "model", "gpt-4o"), kind: gauge, value: 0},
				{name: "switchboard_circuit_state", labels: lbl("provider", "openai", "model", "gpt-4o-mini"), kind: gauge, value: 1},
				{name: "switchboard_circuit_state", labels: lbl("provider", "anthropic", "model", "claude"), kind: gauge, value: 2},
			},
		},
		{
			name: "circuit source removed",
			observe: func(m *Metrics) {
				m.SetCircuitSource(func() []Circuit { return []Circuit{{Provider: "p", Model: "m", State: 2}} })
				m.SetCircuitSource(nil)
			},
			want: []want{{name: "switchboard_circuit_state", kind: famAbsent}},
		},
		{
			name: "long and invalid label values are cut and repaired",
			observe: func(m *Metrics) {
				m.ObserveRequest(Request{Endpoint: chat, Model: strings.Repeat("m", 100), Provider: strings.Repeat("a", 63) + "é", Status: 200})
				m.ObserveRequest(Request{Endpoint: chat, Model: strings.Repeat("m", 65), Provider: strings.Repeat("a", 63) + "éxyz", Status: 200})
				m.Retry("bad\xffprovider", strings.Repeat("c", 70))
				m.Fallback(strings.Repeat("f", 80), "to")
				m.Cache(strings.Repeat("m", 64), true)
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", strings.Repeat("m", 64), "provider", strings.Repeat("a", 63), "team", "none", "status", "200", "error_class", "none"), value: 2},
				{name: "switchboard_retries_total", labels: lbl("provider", "bad\uFFFDprovider", "class", strings.Repeat("c", 64)), value: 1},
				{name: "switchboard_fallbacks_total", labels: lbl("from", strings.Repeat("f", 64), "to", "to"), value: 1},
				{name: "switchboard_cache_requests_total", labels: lbl("model", strings.Repeat("m", 64), "result", "hit"), value: 1},
			},
		},
		{
			name: "team label keeps 200 distinct values",
			observe: func(m *Metrics) {
				for i := range 202 {
					m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai", Team: fmt.Sprintf("team-%03d", i), Status: 200, OutputTokens: 1})
				}
				// Admitted teams keep their label; "none" does not use a slot.
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai", Team: "team-000", Status: 200, OutputTokens: 1})
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai", Status: 200})
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Team: "team-201", Status: 429, ErrorClass: "rate_limit", Refused: "rate_limit"})
			},
			want: []want{
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "team-000", "status", "200", "error_class", "none"), value: 2},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "team-199", "status", "200", "error_class", "none"), value: 1},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "team-200", "status", "200", "error_class", "none"), kind: absent},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "other", "status", "200", "error_class", "none"), value: 2},
				{name: "switchboard_requests_total", labels: lbl("endpoint", chat, "model", "gpt-4o", "provider", "openai", "team", "none", "status", "200", "error_class", "none"), value: 1},
				{name: "switchboard_tokens_total", labels: lbl("model", "gpt-4o", "provider", "openai", "team", "other", "direction", "output"), value: 2},
				{name: "switchboard_refused_total", labels: lbl("reason", "rate_limit", "team", "other"), value: 1},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			tc.observe(m)
			fams := scrape(t, m)
			for _, w := range tc.want {
				check(t, fams, w)
			}
			if f := fams["go_goroutines"]; f == nil {
				t.Error("Go runtime collector missing (go_goroutines)")
			}
		})
	}
}

// TestTeamLabelCardinality: however many teams callers present, the team
// label takes at most 200 values besides "none" and "other".
func TestTeamLabelCardinality(t *testing.T) {
	m := NewMetrics()
	for i := range 1000 {
		m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai", Team: fmt.Sprintf("t%d", i), Status: 200})
	}
	teams := map[string]bool{}
	for _, mt := range scrape(t, m)["switchboard_requests_total"].GetMetric() {
		for _, lp := range mt.GetLabel() {
			if lp.GetName() == "team" {
				teams[lp.GetValue()] = true
			}
		}
	}
	if len(teams) != maxTeams+1 || !teams["other"] {
		t.Errorf("team label has %d values (other: %v), want %d plus other", len(teams), teams["other"], maxTeams)
	}
}

// TestMetricsConcurrent runs observations, gauge changes and scrapes at
// once, for the race detector, and checks nothing is lost.
func TestMetricsConcurrent(t *testing.T) {
	m := NewMetrics()
	m.SetCircuitSource(func() []Circuit { return []Circuit{{Provider: "openai", Model: "gpt-4o", State: 1}} })
	const workers, per = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				m.InFlight(1)
				m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai",
					Team: fmt.Sprintf("t%d", (w*per+i)%300), Status: 200, Stream: i%2 == 0,
					TTFT: time.Millisecond, OutputTokens: 1})
				m.Retry("openai", "timeout")
				m.InFlight(-1)
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			scrape(t, m)
		}
	})
	wg.Wait()
	fams := scrape(t, m)
	var total, tokens float64
	for _, mt := range fams["switchboard_requests_total"].GetMetric() {
		total += mt.GetCounter().GetValue()
	}
	for _, mt := range fams["switchboard_tokens_total"].GetMetric() {
		tokens += mt.GetCounter().GetValue()
	}
	if total != workers*per || tokens != workers*per {
		t.Errorf("requests_total sums to %v, tokens_total to %v, want %d", total, tokens, workers*per)
	}
	check(t, fams, want{name: "switchboard_in_flight_requests", labels: lbl(), kind: gauge, value: 0})
	check(t, fams, want{name: "switchboard_retries_total", labels: lbl("provider", "openai", "class", "timeout"), value: workers * per})
}

// TestObserveRequestAllocs: once a label set has been seen, observing a
// request allocates nothing.
func TestObserveRequestAllocs(t *testing.T) {
	m := NewMetrics()
	r := benchRequest()
	m.ObserveRequest(r)
	if n := testing.AllocsPerRun(1000, func() { m.ObserveRequest(r) }); n != 0 {
		t.Errorf("ObserveRequest allocates %v times per call, want 0", n)
	}
}

func TestBound(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "EMPTY"},
		{"gpt-4o", "gpt-4o"},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{strings.Repeat("x", 65), strings.Repeat("x", 64)},
		{strings.Repeat("x", 62) + "€", strings.Repeat("x", 62)}, // 3-byte rune across the cut
		{strings.Repeat("x", 61) + "€", strings.Repeat("x", 61) + "€"},
		{"a\xffb", "a\uFFFDb"},
	} {
		if got := bound(tc.in, "EMPTY"); got != tc.want {
			t.Errorf("bound(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// populated returns a Metrics with a sample in every family.
func populated() *Metrics {
	m := NewMetrics()
	m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Provider: "openai", Team: "search", Status: 200,
		Stream: true, Latency: time.Second, Upstream: time.Second, TTFT: time.Second, InputTokens: 1, OutputTokens: 1, CachedTokens: 1, CostUSD: 1})
	m.ObserveRequest(Request{Endpoint: chat, Model: "gpt-4o", Team: "search", Status: 429, ErrorClass: "rate_limit", Refused: "rate_limit"})
	m.Retry("openai", "timeout")
	m.Fallback("gpt-4o", "claude")
	m.Cache("gpt-4o", true)
	m.InFlight(1)
	m.UpstreamInFlight("openai", 1)
	m.SetBuildInfo("test")
	m.SetCircuitSource(func() []Circuit { return []Circuit{{Provider: "openai", Model: "gpt-4o", State: 2}} })
	return m
}

var metricName = regexp.MustCompile(`switchboard_[a-zA-Z0-9_]+`)

// exposed reports whether a name used in PromQL is a series the registry
// exposes: a family, or a histogram's _bucket/_sum/_count.
func exposed(fams map[string]*dto.MetricFamily, name string) bool {
	if fams[name] != nil {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if f := fams[base]; f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
	}
	return false
}

// TestGrafanaDashboard: the dashboard is valid JSON for import, and every
// query names only metrics the registry exposes.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Inputs []struct {
			Name, Type, PluginID string
		} `json:"__inputs"`
		SchemaVersion int    `json:"schemaVersion"`
		Title         string `json:"title"`
		UID           string `json:"uid"`
		Panels        []struct {
			ID         int             `json:"id"`
			Type       string          `json:"type"`
			Title      string          `json:"title"`
			Datasource json.RawMessage `json:"datasource"`
			GridPos    *struct{ H, W, X, Y int }
			Targets    []struct {
				Expr       string          `json:"expr"`
				Datasource json.RawMessage `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.SchemaVersion < 36 || dash.Title == "" || dash.UID == "" {
		t.Errorf("schemaVersion %d, title %q, uid %q", dash.SchemaVersion, dash.Title, dash.UID)
	}
	if len(dash.Inputs) != 1 || dash.Inputs[0].Name != "DS_PROMETHEUS" || dash.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want one DS_PROMETHEUS prometheus datasource", dash.Inputs)
	}
	fams := scrape(t, populated())
	ids := map[int]bool{}
	queries := 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: duplicate id %d", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q: no gridPos", p.Title)
		}
		if !strings.Contains(string(p.Datasource), "${DS_PROMETHEUS}") {
			t.Errorf("panel %q: datasource %s, want ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no switchboard metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !exposed(fams, n) {
					t.Errorf("panel %q: query %q uses %s, which the registry does not expose", p.Title, tg.Expr, n)
				}
			}
		}
	}
	if len(dash.Panels) < 9 || queries < 9 {
		t.Errorf("%d panels, %d queries; want at least the 9 documented panels", len(dash.Panels), queries)
	}
}

// TestObservabilityDoc: every metric the registry exposes is documented, and
// the PromQL examples use only exposed metrics.
func TestObservabilityDoc(t *testing.T) {
	raw, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	fams := scrape(t, populated())
	for name := range fams {
		if strings.HasPrefix(name, "switchboard_") && !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("metric %s is not documented in docs/observability.md", name)
		}
	}
	blocks := regexp.MustCompile("(?s)```promql\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) < 6 {
		t.Errorf("%d promql examples, want at least 6", len(blocks))
	}
	for _, b := range blocks {
		for _, n := range metricName.FindAllString(b[1], -1) {
			if !exposed(fams, n) {
				t.Errorf("PromQL example uses %s, which the registry does not expose:\n%s", n, b[1])
			}
		}
	}
}

func benchRequest() Request {
	return Request{
		Endpoint: chat, Model: "gpt-4o", Provider: "openai", Team: "search", Status: 200, Stream: true,
		Latency: 1500 * time.Millisecond, Upstream: 1400 * time.Millisecond, TTFT: 250 * time.Millisecond,
		InputTokens: 1200, OutputTokens: 300, CachedTokens: 512, CostUSD: 0.0042, Attempts: 1,
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := NewMetrics()
	r := benchRequest()
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.ObserveRequest(r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.ObserveRequest(r)
			}
		})
	})
	b.Run("retry+inflight", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.InFlight(1)
			m.UpstreamInFlight("openai", 1)
			m.Retry("openai", "timeout")
			m.UpstreamInFlight("openai", -1)
			m.InFlight(-1)
		}
	})
}

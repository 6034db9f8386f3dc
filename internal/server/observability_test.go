package server_test

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/tracing/tracetest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// obsPrompt is in every prompt sent by the observability tests; it must
// never show up in a metric label or a span.
const obsPrompt = "OBS-PROMPT-MARKER-5e21c9"

const obsChatEndpoint = "POST /v1/chat/completions"

// obsMetricsConfig has model primary on p1 (one retry, falling back to
// backup) and backup on p2, each provider on its own emulator, with prices
// for both upstream models (USD per million tokens).
const obsMetricsConfig = `
routing: {backoff_base: 1ms, backoff_max: 5ms, breaker: {min_requests: 1000}}
providers:
  - name: p1
    type: openai
    base_url: "{{UP}}/v1"
    api_keys: ["${UPSTREAM_KEY}"]
  - name: p2
    type: openai
    base_url: "{{UP2}}/v1"
    api_keys: ["${UPSTREAM_KEY}"]
models:
  - name: primary
    targets: [{provider: p1, model: up-primary}]
    retries: 1
    fallbacks: [backup]
  - name: backup
    targets: [{provider: p2, model: up-backup}]
prices:
  up-primary: {input: 1, output: 2}
  up-backup: {input: 3, output: 5}
`

var obsPrices = map[string][2]float64{"up-primary": {1, 2}, "up-backup": {3, 5}}

func obsChat(model string, stream bool) string {
	s := ""
	if stream {
		s = `"stream":true,"stream_options":{"include_usage":true},`
	}
	return `{"model":"` + model + `",` + s + `"messages":[{"role":"user","content":"say hi ` + obsPrompt + `"}]}`
}

// obsClientUsage is the usage the client saw in a chat answer: the body of a
// non-streamed answer, or the usage chunk of a stream.
func obsClientUsage(t *testing.T, body string, stream bool) (in, out int64) {
	t.Helper()
	type usage struct {
		Usage *struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if !stream {
		var u usage
		if err := json.Unmarshal([]byte(body), &u); err != nil || u.Usage == nil {
			t.Fatalf("answer without usage (%v): %s", err, body)
		}
		return u.Usage.PromptTokens, u.Usage.CompletionTokens
	}
	found := false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var u usage
		if err := json.Unmarshal([]byte(data), &u); err != nil {
			t.Fatalf("stream chunk %q: %v", data, err)
		}
		if u.Usage != nil {
			in, out, found = u.Usage.PromptTokens, u.Usage.CompletionTokens, true
		}
	}
	if !found {
		t.Fatalf("stream without a usage chunk: %s", body)
	}
	return in, out
}

// obsScrape GETs /metrics and returns the raw text and the parsed
// families.
func obsScrape(t *testing.T, url string) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d (%v): %s", resp.StatusCode, err, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: content type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, b)
	}
	return string(b), fams
}

// obsLabelsOf renders a sample's labels as "k=v,k=v" in name order.
func obsLabelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// obsLabels renders "name", "value" pairs like obsLabelsOf.
func obsLabels(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+kv[i+1])
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// obsSeries maps each sample of family name to its value (counter, gauge or
// untyped) or, for histograms, its sample count.
func obsSeries(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var v float64
		switch {
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Histogram != nil:
			v = float64(m.GetHistogram().GetSampleCount())
		default:
			v = m.GetUntyped().GetValue()
		}
		out[obsLabelsOf(m)] = v
	}
	return out
}

func obsSum(m map[string]float64) (s float64) {
	for _, v := range m {
		s += v
	}
	return s
}

// obsWantSeries checks that family name has exactly the series in want
// (values compared with a relative tolerance for float sums).
func obsWantSeries(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]float64) {
	t.Helper()
	got := obsSeries(fams, name)
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s{%s} missing; have %v", name, k, got)
			continue
		}
		if math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s{%s} = %v, want %v", name, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s{%s} = %v, not expected (want only %v)", name, k, g, want)
		}
	}
}

// obsWaitObserved waits until the gateway has observed n requests and none is
// in flight: the finish hop (budget charge, metrics) runs after the client
// has its answer.
func obsWaitObserved(t *testing.T, url string, n float64) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text, fams := obsScrape(t, url)
		got := obsSum(obsSeries(fams, "switchboard_requests_total"))
		inFlight := obsSum(obsSeries(fams, "switchboard_in_flight_requests"))
		if got == n && inFlight == 0 {
			return text, fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests observed = %v (in flight %v), want %v", got, inFlight, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricsThroughGateway(t *testing.T) {
	up1 := newUpstream(t, emulator.Options{})
	up2 := newUpstream(t, emulator.Options{})
	cfg := strings.ReplaceAll(obsMetricsConfig, "{{UP2}}", up2.URL)
	g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, cfg, up1, "", "")
	url := g.URL + "/v1/chat/completions"

	mainID, mainKey := createKey(t, g, `{"name":"obs-main"}`)
	rlID, rlKey := createKey(t, g, `{"name":"obs-limited","rpm":1}`)
	budID, budKey := createKey(t, g, `{"name":"obs-spender","budget":{"usd":0.000001,"period":"daily"}}`)

	type labels struct{ model, provider, status, class string }
	wantReqs := map[labels]float64{}
	type mp struct{ model, provider string }
	wantIn, wantOut, wantCost := map[mp]float64{}, map[mp]float64{}, map[mp]float64{}
	var sent float64

	// ok sends a request that must succeed and books the usage the client saw.
	ok := func(what, key, modelName string, stream bool, wantProvider, upModel string) http.Header {
		t.Helper()
		st, h, body := call(t, "POST", url, key, obsChat(modelName, stream))
		sent++
		if st != http.StatusOK {
			t.Fatalf("%s = %d %s, want 200", what, st, body)
		}
		if p := h.Get("X-Switchboard-Provider"); p != wantProvider {
			t.Errorf("%s: answered by %q, want %q", what, p, wantProvider)
		}
		in, out := obsClientUsage(t, body, stream)
		if in <= 0 || out <= 0 {
			t.Errorf("%s: client usage in=%d out=%d, want both > 0", what, in, out)
		}
		k := mp{modelName, wantProvider}
		wantIn[k] += float64(in)
		wantOut[k] += float64(out)
		pr := obsPrices[upModel]
		wantCost[k] += (float64(in)*pr[0] + float64(out)*pr[1]) / 1e6
		wantReqs[labels{modelName, wantProvider, "200", "none"}]++
		return h
	}
	refused := func(what, key, modelName string, wantStatus int, wantModel, wantCode string) {
		t.Helper()
		st, _, body := call(t, "POST", url, key, obsChat(modelName, false))
		sent++
		wantError(t, what, st, body, wantStatus, wantCode, "")
		wantReqs[labels{wantModel, "none", fmt.Sprint(wantStatus), wantCode}]++
	}

	ok("non-stream", mainKey, "primary", false, "p1", "up-primary")
	ok("stream", mainKey, "primary", true, "p1", "up-primary")
	ok("stream on backup", mainKey, "backup", true, "p2", "up-backup")

	// The first attempt gets a 500, the retry succeeds.
	up1.Reset()
	if err := up1.SetFaults("status=500;times=1"); err != nil {
		t.Fatal(err)
	}
	h := ok("retried", mainKey, "primary", false, "p1", "up-primary")
	if a := h.Get("X-Switchboard-Attempts"); a != "2" {
		t.Errorf("retried request: attempts = %q, want 2", a)
	}
	// Every attempt on p1 fails: backup answers.
	if err := up1.SetFaults("status=500"); err != nil {
		t.Fatal(err)
	}
	h = ok("fallback", mainKey, "primary", false, "p2", "up-backup")
	if a, f := h.Get("X-Switchboard-Attempts"), h.Get("X-Switchboard-Fallback"); a != "3" || f != "backup" {
		t.Errorf("fallback request: attempts = %q, fallback = %q; want 3 and backup", a, f)
	}
	if err := up1.SetFaults(""); err != nil {
		t.Fatal(err)
	}

	// rpm 1: the second request is refused.
	ok("first on rpm 1", rlKey, "primary", false, "p1", "up-primary")
	refused("second on rpm 1", rlKey, "primary", http.StatusTooManyRequests, "primary", "rate_limit_exceeded")

	// A budget far below one request's cost: the second is refused, once
	// the first has been charged (in the finish hop).
	ok("first on a tiny budget", budKey, "primary", false, "p1", "up-primary")
	obsWaitObserved(t, g.URL, sent)
	refused("second on a tiny budget", budKey, "primary", http.StatusTooManyRequests, "primary", "budget_exceeded")

	refused("unknown model", mainKey, "no-such-model-"+obsPrompt, http.StatusNotFound, "unknown", "model_not_found")
	refused("bad key", "sk-sb-not-a-real-key-123456", "primary", http.StatusUnauthorized, "unknown", "invalid_api_key")

	text, fams := obsWaitObserved(t, g.URL, sent)

	// requests_total: exactly one series per label set used above.
	want := map[string]float64{}
	for l, n := range wantReqs {
		want[obsLabels("endpoint", obsChatEndpoint, "model", l.model, "provider", l.provider, "team", "none",
			"status", l.status, "error_class", l.class)] = n
	}
	obsWantSeries(t, fams, "switchboard_requests_total", want)

	// Retries: one in the retried request, one on p1 in the fallback
	// request; moving on to the fallback model is a fallback, not a retry.
	obsWantSeries(t, fams, "switchboard_retries_total", map[string]float64{
		obsLabels("provider", "p1", "class", "server_error"): 2,
	})
	obsWantSeries(t, fams, "switchboard_fallbacks_total", map[string]float64{
		obsLabels("from", "primary", "to", "backup"): 1,
	})
	obsWantSeries(t, fams, "switchboard_refused_total", map[string]float64{
		obsLabels("reason", "rate_limit", "team", "none"): 1,
		obsLabels("reason", "budget", "team", "none"):     1,
	})

	// Tokens and cost match what the clients saw, priced by the override.
	wantTok, wantUSD := map[string]float64{}, map[string]float64{}
	for k := range wantIn {
		wantTok[obsLabels("model", k.model, "provider", k.provider, "team", "none", "direction", "input")] = wantIn[k]
		wantTok[obsLabels("model", k.model, "provider", k.provider, "team", "none", "direction", "output")] = wantOut[k]
		wantUSD[obsLabels("model", k.model, "provider", k.provider, "team", "none")] = wantCost[k]
	}
	// The emulator reports no cached tokens: the cached series exist (they
	// are resolved with the others) but stay at zero.
	for k, v := range obsSeries(fams, "switchboard_tokens_total") {
		if strings.Contains(k, "direction=cached") {
			if v != 0 {
				t.Errorf("switchboard_tokens_total{%s} = %v, want 0", k, v)
			}
			wantTok[k] = 0
		}
	}
	obsWantSeries(t, fams, "switchboard_tokens_total", wantTok)
	obsWantSeries(t, fams, "switchboard_cost_usd_total", wantUSD)
	for k, v := range obsSeries(fams, "switchboard_tokens_total") {
		if !strings.Contains(k, "direction=cached") && v <= 0 {
			t.Errorf("switchboard_tokens_total{%s} = %v, want > 0", k, v)
		}
	}

	// TTFT: one observation per stream.
	obsWantSeries(t, fams, "switchboard_time_to_first_token_seconds", map[string]float64{
		obsLabels("model", "primary", "provider", "p1"): 1,
		obsLabels("model", "backup", "provider", "p2"):  1,
	})
	dur := obsSeries(fams, "switchboard_request_duration_seconds")
	if got := obsSum(dur); got != sent {
		t.Errorf("request_duration_seconds count = %v, want %v (every request)", got, sent)
	}
	var streams float64
	for k, v := range dur {
		if strings.Contains(k, "stream=true") {
			streams += v
		}
	}
	if streams != 2 {
		t.Errorf("request_duration_seconds{stream=true} count = %v, want 2 (%v)", streams, dur)
	}

	obsWantSeries(t, fams, "switchboard_in_flight_requests", map[string]float64{"": 0})
	for k, v := range obsSeries(fams, "switchboard_upstream_in_flight_requests") {
		if v != 0 {
			t.Errorf("switchboard_upstream_in_flight_requests{%s} = %v after all requests, want 0", k, v)
		}
	}
	obsWantSeries(t, fams, "switchboard_circuit_state", map[string]float64{
		obsLabels("provider", "p1", "model", "up-primary"): 0,
		obsLabels("provider", "p2", "model", "up-backup"):  0,
	})

	// Nothing per caller or per request in the scrape.
	for _, secret := range []string{mainKey, rlKey, budKey, "sk-sb-", "sk-sb-not-a-real-key-123456",
		mainID, rlID, budID, "obs-main", "obs-limited", "obs-spender", obsPrompt, upstreamKey, adminKey} {
		if strings.Contains(text, secret) {
			t.Errorf("the /metrics scrape contains %q", secret)
		}
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); strings.HasPrefix(v, "key_") || strings.HasPrefix(v, "sk-") || strings.Contains(v, "say hi") {
					t.Errorf("%s has label %s=%q", name, l.GetName(), v)
				}
			}
		}
	}
}

// otlpReceiver is an in-process OTLP/HTTP trace collector.
type otlpReceiver struct {
	srv *httptest.Server

	mu        sync.Mutex
	spans     []*tracepb.Span
	resources []map[string]any
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.handle))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *otlpReceiver) handle(w http.ResponseWriter, r *http.Request) {
	req, err := tracetest.ReadExport(w, r)
	if err != nil {
		return
	}
	rc.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		rc.resources = append(rc.resources, tracetest.Attrs(rs.GetResource().GetAttributes()))
		for _, ss := range rs.GetScopeSpans() {
			rc.spans = append(rc.spans, ss.GetSpans()...)
		}
	}
	rc.mu.Unlock()
	tracetest.Accept(w)
}

func (rc *otlpReceiver) got() ([]*tracepb.Span, []map[string]any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.spans), slices.Clone(rc.resources)
}

const (
	obsTraceID     = "0af7651916cd43dd8448eb211c80319c"
	obsParentID    = "b7ad6b7169203331"
	obsTraceparent = "00-" + obsTraceID + "-" + obsParentID + "-01"
)

const obsTraceConfig = `
routing: {backoff_base: 1ms, backoff_max: 5ms, breaker: {min_requests: 1000}}
providers:
  - name: p1
    type: openai
    base_url: "{{UP}}/v1"
    api_keys: ["${UPSTREAM_KEY}"]
models:
  - name: traced
    targets: [{provider: p1, model: up-traced}]
    retries: 1
keys:
  - {name: tracer, key: "${GATEWAY_KEY}"}
`

func TestTraceThroughGateway(t *testing.T) {
	t.Run("on", func(t *testing.T) {
		rc := newOTLPReceiver(t)
		up := newUpstream(t, emulator.Options{})
		if err := up.SetFaults("status=429;header=retry-after:0;times=1"); err != nil {
			t.Fatal(err)
		}
		g := newGateway(t, obsTraceConfig+fmt.Sprintf("tracing: {endpoint: %q}\n", rc.srv.URL), up)
		res := do(t, "POST", g.URL+"/v1/chat/completions", obsChat("traced", false),
			"Authorization", "Bearer "+gatewayKey, "traceparent", obsTraceparent)
		if res.status != http.StatusOK {
			t.Fatalf("status = %d %s, want 200 after one retry", res.status, res.body)
		}
		if a := res.header.Get("X-Switchboard-Attempts"); a != "2" {
			t.Errorf("attempts = %q, want 2", a)
		}
		in, out := obsClientUsage(t, res.body, false)
		upTP := []string{up.next(t).Header.Get("Traceparent"), up.next(t).Header.Get("Traceparent")}

		// Close flushes the tracer; a second Close must be harmless.
		if err := g.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}

		spans, resources := rc.got()
		var server *tracepb.Span
		attempts := map[int64]*tracepb.Span{}
		for _, s := range spans {
			if got := hex.EncodeToString(s.GetTraceId()); got != obsTraceID {
				t.Errorf("span %q: trace id %s, want the incoming %s", s.GetName(), got, obsTraceID)
			}
			switch s.GetKind() {
			case tracepb.Span_SPAN_KIND_SERVER:
				if server != nil {
					t.Errorf("two server spans: %q and %q", server.GetName(), s.GetName())
				}
				server = s
			case tracepb.Span_SPAN_KIND_CLIENT:
				n, _ := tracetest.Attrs(s.GetAttributes())["switchboard.attempt"].(int64)
				if attempts[n] != nil {
					t.Errorf("two client spans for attempt %d", n)
				}
				attempts[n] = s
			}
		}
		if server == nil || len(attempts) != 2 || attempts[1] == nil || attempts[2] == nil {
			var names []string
			for _, s := range spans {
				names = append(names, fmt.Sprintf("%s(%s)", s.GetName(), s.GetKind()))
			}
			t.Fatalf("spans = %v, want one server span and client spans for attempts 1 and 2", names)
		}
		if server.GetName() != obsChatEndpoint {
			t.Errorf("server span name = %q, want %q", server.GetName(), obsChatEndpoint)
		}
		if got := hex.EncodeToString(server.GetParentSpanId()); got != obsParentID {
			t.Errorf("server span parent = %s, want the incoming span %s", got, obsParentID)
		}
		serverID := hex.EncodeToString(server.GetSpanId())
		for n, s := range attempts {
			if s.GetName() != "chat up-traced" {
				t.Errorf("attempt %d span name = %q, want %q", n, s.GetName(), "chat up-traced")
			}
			if got := hex.EncodeToString(s.GetParentSpanId()); got != serverID {
				t.Errorf("attempt %d span parent = %s, want the server span %s", n, got, serverID)
			}
			// The upstream got this attempt's span as its parent.
			want := "00-" + obsTraceID + "-" + hex.EncodeToString(s.GetSpanId()) + "-01"
			if upTP[n-1] != want {
				t.Errorf("upstream attempt %d traceparent = %q, want %q", n, upTP[n-1], want)
			}
		}
		a1, a2 := tracetest.Attrs(attempts[1].GetAttributes()), tracetest.Attrs(attempts[2].GetAttributes())
		if a1["error.type"] != "rate_limit" || a1["http.response.status_code"] != int64(429) {
			t.Errorf("attempt 1 error.type = %v, status = %v; want rate_limit and 429", a1["error.type"], a1["http.response.status_code"])
		}
		if attempts[1].GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("attempt 1 span status = %v, want Error", attempts[1].GetStatus())
		}
		if a2["gen_ai.usage.input_tokens"] != in || a2["gen_ai.usage.output_tokens"] != out || in <= 0 || out <= 0 {
			t.Errorf("attempt 2 usage = %v/%v, want the client's %d/%d (> 0)", a2["gen_ai.usage.input_tokens"], a2["gen_ai.usage.output_tokens"], in, out)
		}
		if _, bad := a2["error.type"]; bad || a2["http.response.status_code"] != int64(200) {
			t.Errorf("attempt 2 error.type = %v, status = %v; want none and 200", a2["error.type"], a2["http.response.status_code"])
		}
		for n, a := range map[int]map[string]any{1: a1, 2: a2} {
			if a["gen_ai.provider.name"] != "openai" || a["switchboard.provider"] != "p1" || a["gen_ai.request.model"] != "up-traced" {
				t.Errorf("attempt %d provider/model attributes = %v", n, a)
			}
		}
		sa := tracetest.Attrs(server.GetAttributes())
		if sa["switchboard.key"] != "tracer" || sa["http.response.status_code"] != int64(200) || sa["gen_ai.request.model"] != "traced" {
			t.Errorf("server span attributes = %v, want key name tracer, status 200, model traced", sa)
		}

		// No prompt or secret anywhere in what was exported.
		var all []string
		for _, s := range spans {
			all = append(all, s.GetName(), s.GetStatus().GetMessage())
			for k, v := range tracetest.Attrs(s.GetAttributes()) {
				all = append(all, k+"="+fmt.Sprint(v))
			}
			for _, e := range s.GetEvents() {
				all = append(all, e.GetName())
				for k, v := range tracetest.Attrs(e.GetAttributes()) {
					all = append(all, k+"="+fmt.Sprint(v))
				}
			}
		}
		for _, r := range resources {
			for k, v := range r {
				all = append(all, k+"="+fmt.Sprint(v))
			}
		}
		for _, s := range all {
			for _, secret := range []string{obsPrompt, "say hi", gatewayKey, upstreamKey} {
				if strings.Contains(s, secret) {
					t.Errorf("exported span data %q contains %q", s, secret)
				}
			}
		}
	})

	t.Run("off", func(t *testing.T) {
		up := newUpstream(t, emulator.Options{})
		g := newGateway(t, obsTraceConfig, up)
		res := do(t, "POST", g.URL+"/v1/chat/completions", obsChat("traced", false),
			"Authorization", "Bearer "+gatewayKey, "traceparent", obsTraceparent, "tracestate", "vendor=abc")
		if res.status != http.StatusOK {
			t.Fatalf("status = %d %s", res.status, res.body)
		}
		h := up.next(t).Header
		if got := h.Get("Traceparent"); got != obsTraceparent {
			t.Errorf("upstream traceparent = %q, want the client's %q unchanged", got, obsTraceparent)
		}
		if got := h.Get("Tracestate"); got != "vendor=abc" {
			t.Errorf("upstream tracestate = %q, want vendor=abc", got)
		}
	})
}

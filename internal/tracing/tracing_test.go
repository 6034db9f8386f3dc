package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/tracing/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpanID  = "00f067aa0ba902b7"
	sampledParent   = "00-" + incomingTraceID + "-" + incomingSpanID + "-01"
	unsampledParent = "00-" + incomingTraceID + "-" + incomingSpanID + "-00"

	// promptMarker is in the request body and secretMarker in its
	// Authorization header; neither is ever handed to the tracer, and
	// neither may show up in an exported span.
	promptMarker = "PROMPT-MARKER-7f3a9c"
	secretMarker = "sk-SECRET-MARKER-41d2"
)

// receiver is an in-process OTLP/HTTP collector.
type receiver struct {
	srv     *httptest.Server
	discard bool

	mu        sync.Mutex
	spans     []*tracepb.Span
	resources []map[string]any
	headers   []http.Header
	exports   int
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.handle))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) handle(w http.ResponseWriter, r *http.Request) {
	req, err := tracetest.ReadExport(w, r)
	if err != nil {
		return
	}
	rc.mu.Lock()
	rc.exports++
	if !rc.discard {
		rc.headers = append(rc.headers, r.Header.Clone())
		for _, rs := range req.GetResourceSpans() {
			rc.resources = append(rc.resources, tracetest.Attrs(rs.GetResource().GetAttributes()))
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
	}
	rc.mu.Unlock()
	tracetest.Accept(w)
}

func (rc *receiver) got() []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...)
}

func newRequest(traceparent string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"`+promptMarker+`"}],"user":"end-user-1"}`))
	r.Header.Set("Authorization", "Bearer "+secretMarker)
	if traceparent != "" {
		r.Header.Set("traceparent", traceparent)
		r.Header.Set("tracestate", "vendor=abc")
	}
	return r
}

func newTracer(t testing.TB, cfg Config) *Tracer {
	t.Helper()
	tr, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !tr.Enabled() {
		t.Fatal("Enabled() = false with an endpoint")
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

func hexID(b []byte) string { return hex.EncodeToString(b) }

func checkAttrs(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: attribute %s missing (have %v)", what, k, got)
			continue
		}
		if fmt.Sprint(g) != fmt.Sprint(w) || fmt.Sprintf("%T", g) != fmt.Sprintf("%T", w) {
			t.Errorf("%s: %s = %v (%T), want %v (%T)", what, k, g, g, w, w)
		}
	}
}

func TestRequestTrace(t *testing.T) {
	rc := newReceiver(t)
	tr := newTracer(t, Config{
		Endpoint: rc.srv.URL,
		Headers:  map[string]string{"X-Collector-Token": "tok-1"},
		Version:  "1.2.3",
	})
	ctx := context.Background()

	req := newRequest(sampledParent)
	ctx, reqSpan := tr.StartRequest(ctx, req, "req-123")
	if !reqSpan.IsRecording() {
		t.Fatal("request span not recording")
	}
	_, hop := tr.Hop(ctx, "authenticate")
	hop.End()

	a1ctx, a1 := tr.StartAttempt(ctx, Attempt{
		Operation: "chat", ProviderType: "openai", ProviderName: "openai-main",
		Model: "gpt-4o", ServerAddress: "api.openai.com", Number: 1,
		MaxTokens: 100, Temperature: 0.5, HasTemperature: true,
	})
	h := http.Header{}
	tr.Inject(a1ctx, h)
	wantTP := "00-" + incomingTraceID + "-" + a1.SpanContext().SpanID().String() + "-01"
	if got := h.Get("traceparent"); got != wantTP {
		t.Errorf("Inject traceparent = %q, want %q", got, wantTP)
	}
	if got := h.Get("tracestate"); got != "vendor=abc" {
		t.Errorf("Inject tracestate = %q, want vendor=abc", got)
	}
	EndAttempt(a1, Outcome{Status: 429, ErrorClass: "rate_limit"})

	_, a2 := tr.StartAttempt(ctx, Attempt{
		ProviderType: "azure", ProviderName: "azure-eu",
		Model: "gpt-4o", ServerAddress: "eu.openai.azure.com:8443", Number: 2,
	})
	EndAttempt(a2, Outcome{
		ResponseModel: "gpt-4o-2024-08-06", InputTokens: 12, OutputTokens: 34,
		Status: 200, FinishReasons: []string{"stop"},
	})
	EndRequest(reqSpan, RequestEnd{
		Status: 200, KeyName: "team-a-key", Team: "team-a", Model: "gpt-4o",
		InputTokens: 12, OutputTokens: 34, CostUSD: 0.0025,
	})

	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}

	spans := rc.got()
	if len(spans) != 4 {
		t.Fatalf("got %d spans, want 4", len(spans))
	}
	var server, hopSpan *tracepb.Span
	attempts := map[int64]*tracepb.Span{}
	for _, s := range spans {
		if got := hexID(s.GetTraceId()); got != incomingTraceID {
			t.Errorf("span %q trace id %s, want %s", s.GetName(), got, incomingTraceID)
		}
		switch s.GetName() {
		case "POST /v1/chat/completions":
			server = s
		case "authenticate":
			hopSpan = s
		case "chat gpt-4o":
			n, _ := tracetest.Attrs(s.GetAttributes())["switchboard.attempt"].(int64)
			attempts[n] = s
		default:
			t.Errorf("unexpected span %q", s.GetName())
		}
	}
	if server == nil || hopSpan == nil || attempts[1] == nil || attempts[2] == nil {
		t.Fatalf("missing spans: server=%v hop=%v attempts=%v", server != nil, hopSpan != nil, len(attempts))
	}

	// Server span: child of the incoming span, tracestate kept.
	if got := hexID(server.GetParentSpanId()); got != incomingSpanID {
		t.Errorf("server span parent = %s, want incoming %s", got, incomingSpanID)
	}
	if server.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span kind = %v", server.GetKind())
	}
	if server.GetTraceState() != "vendor=abc" {
		t.Errorf("server span tracestate = %q", server.GetTraceState())
	}
	checkAttrs(t, "server", tracetest.Attrs(server.GetAttributes()), map[string]any{
		"http.request.method":        "POST",
		"url.path":                   "/v1/chat/completions",
		"switchboard.request_id":     "req-123",
		"http.response.status_code":  int64(200),
		"switchboard.key":            "team-a-key",
		"switchboard.team":           "team-a",
		"gen_ai.request.model":       "gpt-4o",
		"gen_ai.usage.input_tokens":  int64(12),
		"gen_ai.usage.output_tokens": int64(34),
		"switchboard.cost_usd":       0.0025,
	})
	if _, ok := tracetest.Attrs(server.GetAttributes())["error.type"]; ok {
		t.Error("successful request has error.type")
	}
	if server.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Error("successful request has status Error")
	}

	// Hop and attempts: children of the server span.
	serverID := hexID(server.GetSpanId())
	if got := hexID(hopSpan.GetParentSpanId()); got != serverID {
		t.Errorf("hop parent = %s, want %s", got, serverID)
	}
	if hopSpan.GetKind() != tracepb.Span_SPAN_KIND_INTERNAL {
		t.Errorf("hop kind = %v", hopSpan.GetKind())
	}
	for n, s := range attempts {
		if got := hexID(s.GetParentSpanId()); got != serverID {
			t.Errorf("attempt %d parent = %s, want server span %s", n, got, serverID)
		}
		if s.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("attempt %d kind = %v", n, s.GetKind())
		}
	}
	if got := hexID(attempts[1].GetSpanId()); got != a1.SpanContext().SpanID().String() {
		t.Errorf("attempt 1 span id %s, injected %s", got, a1.SpanContext().SpanID())
	}

	a1attrs := tracetest.Attrs(attempts[1].GetAttributes())
	checkAttrs(t, "attempt 1", a1attrs, map[string]any{
		"gen_ai.operation.name":      "chat",
		"gen_ai.provider.name":       "openai",
		"gen_ai.request.model":       "gpt-4o",
		"gen_ai.request.max_tokens":  int64(100),
		"gen_ai.request.temperature": 0.5,
		"server.address":             "api.openai.com",
		"switchboard.attempt":        int64(1),
		"switchboard.provider":       "openai-main",
		"http.response.status_code":  int64(429),
		"error.type":                 "rate_limit",
	})
	if attempts[1].GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("failed attempt status = %v, want Error", attempts[1].GetStatus())
	}
	for _, k := range []string{"gen_ai.usage.input_tokens", "gen_ai.response.model", "server.port"} {
		if _, ok := a1attrs[k]; ok {
			t.Errorf("failed attempt has %s", k)
		}
	}

	a2attrs := tracetest.Attrs(attempts[2].GetAttributes())
	checkAttrs(t, "attempt 2", a2attrs, map[string]any{
		"gen_ai.operation.name":          "chat",
		"gen_ai.provider.name":           "azure.ai.openai",
		"gen_ai.request.model":           "gpt-4o",
		"gen_ai.response.model":          "gpt-4o-2024-08-06",
		"gen_ai.usage.input_tokens":      int64(12),
		"gen_ai.usage.output_tokens":     int64(34),
		"gen_ai.response.finish_reasons": []any{"stop"},
		"server.address":                 "eu.openai.azure.com",
		"server.port":                    int64(8443),
		"switchboard.attempt":            int64(2),
		"switchboard.provider":           "azure-eu",
		"http.response.status_code":      int64(200),
	})
	if _, ok := a2attrs["error.type"]; ok {
		t.Error("successful attempt has error.type")
	}
	if attempts[2].GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Error("successful attempt has status Error")
	}

	// Resource and export headers.
	rc.mu.Lock()
	for _, res := range rc.resources {
		checkAttrs(t, "resource", res, map[string]any{"service.name": "switchboard", "service.version": "1.2.3"})
	}
	for _, hh := range rc.headers {
		if hh.Get("X-Collector-Token") != "tok-1" {
			t.Errorf("export without configured header: %v", hh)
		}
	}
	rc.mu.Unlock()

	// Sanity: the prompt, the secret and the end user never reach a span.
	for _, s := range spans {
		dump := s.GetName() + fmt.Sprint(tracetest.Attrs(s.GetAttributes())) + s.GetStatus().GetMessage()
		for _, ev := range s.GetEvents() {
			dump += ev.GetName() + fmt.Sprint(tracetest.Attrs(ev.GetAttributes()))
		}
		for _, bad := range []string{promptMarker, secretMarker, "end-user-1"} {
			if strings.Contains(dump, bad) {
				t.Errorf("span %q contains %q", s.GetName(), bad)
			}
		}
	}
}

func TestRequestWithoutParent(t *testing.T) {
	rc := newReceiver(t)
	tr := newTracer(t, Config{Endpoint: rc.srv.URL + "/"}) // SampleRatio 0 → 1.0
	ctx, span := tr.StartRequest(context.Background(), newRequest(""), "r1")
	_, a := tr.StartAttempt(ctx, Attempt{ProviderType: "simulator", ProviderName: "sim", Model: "demo", Number: 1})
	EndAttempt(a, Outcome{Status: 200})
	EndRequest(span, RequestEnd{Status: 200})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rc.got()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2 (default ratio 1.0)", len(spans))
	}
	for _, s := range spans {
		if s.GetName() == "POST /v1/chat/completions" && len(s.GetParentSpanId()) != 0 {
			t.Errorf("root span has parent %x", s.GetParentSpanId())
		}
		if s.GetName() == "chat demo" {
			checkAttrs(t, "attempt", tracetest.Attrs(s.GetAttributes()), map[string]any{"gen_ai.provider.name": "switchboard.simulator"})
		}
	}
}

func TestSampling(t *testing.T) {
	cases := []struct {
		name        string
		ratio       float64
		traceparent string
		wantSpans   int
		wantFlags   string
	}{
		{"tiny ratio, new trace", 1e-9, "", 0, "00"},
		{"tiny ratio, sampled parent", 1e-9, sampledParent, 2, "01"},
		{"full ratio, unsampled parent", 1, unsampledParent, 0, "00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t)
			tr := newTracer(t, Config{Endpoint: rc.srv.URL, SampleRatio: tc.ratio})
			ctx, span := tr.StartRequest(context.Background(), newRequest(tc.traceparent), "r1")
			actx, a := tr.StartAttempt(ctx, Attempt{ProviderType: "openai", Model: "gpt-4o", Number: 1})
			if a.IsRecording() != (tc.wantSpans > 0) {
				t.Errorf("attempt IsRecording = %v", a.IsRecording())
			}
			// The decision is propagated upstream either way.
			h := http.Header{}
			tr.Inject(actx, h)
			tp := h.Get("traceparent")
			if len(tp) != 55 || !strings.HasSuffix(tp, "-"+tc.wantFlags) {
				t.Errorf("injected traceparent %q, want flags %s", tp, tc.wantFlags)
			}
			if tc.traceparent != "" && !strings.Contains(tp, incomingTraceID) {
				t.Errorf("injected traceparent %q lost the incoming trace id", tp)
			}
			EndAttempt(a, Outcome{Status: 200})
			EndRequest(span, RequestEnd{Status: 200})
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans := rc.got()
			if len(spans) != tc.wantSpans {
				t.Fatalf("exported %d spans, want %d", len(spans), tc.wantSpans)
			}
			for _, s := range spans {
				if hexID(s.GetTraceId()) != incomingTraceID {
					t.Errorf("span %q in trace %x", s.GetName(), s.GetTraceId())
				}
			}
		})
	}
}

func TestRequestStatus(t *testing.T) {
	rc := newReceiver(t)
	tr := newTracer(t, Config{Endpoint: rc.srv.URL})
	ends := map[string]RequestEnd{
		"r401": {Status: 401, ErrorClass: "auth"},
		"r502": {Status: 502, ErrorClass: "upstream"},
		"r503": {Status: 503},
		"r000": {ErrorClass: "client_closed"},
	}
	for id, e := range ends {
		_, s := tr.StartRequest(context.Background(), newRequest(""), id)
		EndRequest(s, e)
	}
	// An attempt failing with an unclassified 500.
	_, a := tr.StartAttempt(context.Background(), Attempt{ProviderType: "anthropic", Model: "claude", Number: 1})
	EndAttempt(a, Outcome{Status: 500})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		errType string
		isErr   bool
	}{
		"r401": {"auth", false}, // 4xx: server span status stays unset
		"r502": {"upstream", true},
		"r503": {"503", true},
		"r000": {"client_closed", true},
	}
	seen := 0
	for _, s := range rc.got() {
		m := tracetest.Attrs(s.GetAttributes())
		if s.GetName() == "chat claude" {
			checkAttrs(t, "attempt", m, map[string]any{"error.type": "500", "gen_ai.provider.name": "anthropic"})
			if s.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
				t.Error("attempt with 500 not Error")
			}
			continue
		}
		id, _ := m["switchboard.request_id"].(string)
		w, ok := want[id]
		if !ok {
			t.Errorf("unexpected span %q %v", s.GetName(), m)
			continue
		}
		seen++
		if m["error.type"] != w.errType {
			t.Errorf("%s: error.type = %v, want %s", id, m["error.type"], w.errType)
		}
		if got := s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR; got != w.isErr {
			t.Errorf("%s: status Error = %v, want %v", id, got, w.isErr)
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d request spans, want %d", seen, len(want))
	}
}

func TestRoutePattern(t *testing.T) {
	rc := newReceiver(t)
	tr := newTracer(t, Config{Endpoint: rc.srv.URL})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, s := tr.StartRequest(r.Context(), r, "r1")
		EndRequest(s, RequestEnd{Status: 200})
	})
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/models/gpt-4o", nil))
	r := httptest.NewRequest("BREW", "/x", nil)
	_, s := tr.StartRequest(context.Background(), r, "r2")
	EndRequest(s, RequestEnd{Status: 405})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	names := map[string]map[string]any{}
	for _, s := range rc.got() {
		names[s.GetName()] = tracetest.Attrs(s.GetAttributes())
	}
	m, ok := names["GET /v1/models/{id}"]
	if !ok {
		t.Fatalf("no span named after the route; got %v", names)
	}
	checkAttrs(t, "routed", m, map[string]any{"http.route": "/v1/models/{id}", "url.path": "/v1/models/gpt-4o"})
	m, ok = names["_OTHER /x"]
	if !ok {
		t.Fatalf("unknown method not normalized; got %v", names)
	}
	checkAttrs(t, "other", m, map[string]any{"http.request.method": "_OTHER"})
}

func TestGzipReceiver(t *testing.T) {
	// The exporter sends uncompressed by default; make sure the receiver
	// would also cope with gzip (OTEL_EXPORTER_OTLP_COMPRESSION=gzip).
	rc := newReceiver(t)
	msg := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "z"}}}},
	}}}
	raw, _ := proto.Marshal(msg)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, rc.srv.URL+"/v1/traces", &buf)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := rc.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || len(rc.got()) != 1 || rc.got()[0].GetName() != "z" {
		t.Fatalf("gzip export: status %d, spans %v", resp.StatusCode, rc.got())
	}
	rc.srv.Client().CloseIdleConnections()
}

func TestNewErrors(t *testing.T) {
	bad := []Config{
		{Endpoint: "ftp://collector:4318"},
		{Endpoint: "http://"},
		{Endpoint: "collector:4318"},
		{Endpoint: "http://collector:4318?x=1"},
		{Endpoint: "http://u:p@collector:4318"},
		{Endpoint: "http://c:4318", SampleRatio: 1.5},
		{Endpoint: "http://c:4318", SampleRatio: -0.1},
		{Endpoint: "http://c:4318", SampleRatio: math.NaN()},
	}
	for _, cfg := range bad {
		if tr, err := New(context.Background(), cfg); err == nil {
			_ = tr.Shutdown(context.Background())
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestExportURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://c:4318":            "http://c:4318/v1/traces",
		"http://c:4318/":           "http://c:4318/v1/traces",
		"https://c.example/otlp/":  "https://c.example/otlp/v1/traces",
		"http://c:4318/v1/traces":  "http://c:4318/v1/traces",
		"http://c:4318/v1/traces/": "http://c:4318/v1/traces",
	} {
		got, err := exportURL(in)
		if err != nil || got != want {
			t.Errorf("exportURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestGenAIProvider(t *testing.T) {
	for typ, want := range map[string]string{
		"openai": "openai", "azure": "azure.ai.openai", "anthropic": "anthropic",
		"gemini": "gcp.gemini", "vertex": "gcp.vertex_ai", "bedrock": "aws.bedrock",
		"simulator": "switchboard.simulator", "groq": "openai", "together": "openai", "": "openai",
	} {
		if got := genAIProvider(typ); got != want {
			t.Errorf("genAIProvider(%q) = %q, want %q", typ, got, want)
		}
	}
}

func TestDisabled(t *testing.T) {
	off, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tr := range map[string]*Tracer{"New(Config{})": off, "nil": nil} {
		if tr.Enabled() {
			t.Errorf("%s: Enabled", name)
		}
		ctx := context.Background()
		r := newRequest(sampledParent)
		h := http.Header{}
		rctx, rs := tr.StartRequest(ctx, r, "r1")
		hctx, hs := tr.Hop(rctx, "limit")
		actx, as := tr.StartAttempt(rctx, Attempt{ProviderType: "openai", Model: "gpt-4o", Number: 1})
		if rctx != ctx || hctx != ctx || actx != ctx {
			t.Errorf("%s: context changed", name)
		}
		for _, s := range []trace.Span{rs, hs, as} {
			if s.IsRecording() || s.SpanContext().IsValid() {
				t.Errorf("%s: disabled span is recording/valid", name)
			}
		}
		tr.Inject(actx, h)
		if len(h) != 0 {
			t.Errorf("%s: Inject wrote %v", name, h)
		}
		hs.End()
		EndAttempt(as, Outcome{Status: 429, ErrorClass: "rate_limit"})
		EndRequest(rs, RequestEnd{Status: 200, KeyName: "k"})
		EndAttempt(nil, Outcome{})
		EndRequest(nil, RequestEnd{})
		if err := tr.Shutdown(ctx); err != nil {
			t.Errorf("%s: Shutdown: %v", name, err)
		}

		allocs := testing.AllocsPerRun(1000, func() {
			rctx, rs := tr.StartRequest(ctx, r, "r1")
			hctx, hs := tr.Hop(rctx, "authenticate")
			hs.End()
			actx, as := tr.StartAttempt(hctx, Attempt{
				Operation: "chat", ProviderType: "openai", ProviderName: "p",
				Model: "gpt-4o", ServerAddress: "api.openai.com", Number: 1,
			})
			tr.Inject(actx, h)
			EndAttempt(as, Outcome{ResponseModel: "gpt-4o", InputTokens: 1, OutputTokens: 2, Status: 200})
			EndRequest(rs, RequestEnd{Status: 200, KeyName: "k", Team: "t", Model: "gpt-4o", InputTokens: 1, OutputTokens: 2})
		})
		if allocs != 0 {
			t.Errorf("%s: disabled tracer allocates %v per request, want 0", name, allocs)
		}
	}
}

func TestDisabledOutsideSpanNotEnded(t *testing.T) {
	// A disabled tracer must not hand back (and let the caller end) a span
	// that already is in ctx, e.g. one from other instrumentation.
	rc := newReceiver(t)
	on := newTracer(t, Config{Endpoint: rc.srv.URL})
	ctx, outer := on.StartRequest(context.Background(), newRequest(""), "outer")
	var off *Tracer
	_, s := off.StartAttempt(ctx, Attempt{Model: "m"})
	EndAttempt(s, Outcome{Status: 500})
	_, h := off.Hop(ctx, "route")
	h.End()
	if !outer.IsRecording() {
		t.Fatal("disabled tracer ended the context's span")
	}
	EndRequest(outer, RequestEnd{Status: 200})
}

func TestPassThrough(t *testing.T) {
	in := http.Header{}
	in.Set("traceparent", sampledParent)
	in.Add("tracestate", "a=1")
	in.Add("tracestate", "b=2")
	out := http.Header{}
	PassThrough(in, out)
	if out.Get("traceparent") != sampledParent || out.Get("tracestate") != "a=1,b=2" {
		t.Errorf("PassThrough copied %v", out)
	}
	// The copy is independent of the incoming header.
	in.Set("traceparent", unsampledParent)
	if out.Get("traceparent") != sampledParent {
		t.Error("PassThrough aliases the incoming header")
	}

	for _, tp := range []string{
		"",
		"garbage",
		"00-" + incomingTraceID + "-" + incomingSpanID + "-01-extra", // version 00 is exactly 55
		"ff-" + incomingTraceID + "-" + incomingSpanID + "-01",
		"00-00000000000000000000000000000000-" + incomingSpanID + "-01",
		"00-" + incomingTraceID + "-0000000000000000-01",
		"00-" + strings.ToUpper(incomingTraceID) + "-" + incomingSpanID + "-01",
	} {
		in := http.Header{}
		if tp != "" {
			in.Set("traceparent", tp)
		}
		in.Set("tracestate", "a=1")
		out := http.Header{}
		PassThrough(in, out)
		if len(out) != 0 {
			t.Errorf("PassThrough(%q) copied %v", tp, out)
		}
	}

	// Future versions may be longer.
	in = http.Header{}
	in.Set("traceparent", "01-"+incomingTraceID+"-"+incomingSpanID+"-01-whatever")
	out = http.Header{}
	PassThrough(in, out)
	if out.Get("traceparent") == "" {
		t.Error("future-version traceparent not forwarded")
	}

	// Oversized tracestate is dropped, traceparent kept.
	in = http.Header{}
	in.Set("traceparent", sampledParent)
	in.Set("tracestate", "a="+strings.Repeat("x", 600))
	out = http.Header{}
	PassThrough(in, out)
	if out.Get("traceparent") != sampledParent || out.Get("tracestate") != "" {
		t.Errorf("oversized tracestate: %v", out)
	}

	PassThrough(nil, out)
	PassThrough(in, nil)
	empty := http.Header{"Content-Type": {"application/json"}}
	if a := testing.AllocsPerRun(100, func() { PassThrough(empty, out) }); a != 0 {
		t.Errorf("PassThrough without trace headers allocates %v", a)
	}
}

func BenchmarkDisabled(b *testing.B) {
	var tr *Tracer
	benchRequest(b, tr)
}

func BenchmarkEnabled(b *testing.B) {
	rc := newReceiver(b)
	rc.discard = true
	tr, err := New(context.Background(), Config{Endpoint: rc.srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	benchRequest(b, tr)
	b.StopTimer()
	if err := tr.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func benchRequest(b *testing.B, tr *Tracer) {
	r := newRequest(sampledParent)
	h := http.Header{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rctx, rs := tr.StartRequest(ctx, r, "req-1")
		actx, as := tr.StartAttempt(rctx, Attempt{
			Operation: "chat", ProviderType: "openai", ProviderName: "openai-main",
			Model: "gpt-4o", ServerAddress: "api.openai.com", Number: 1, MaxTokens: 256,
		})
		tr.Inject(actx, h)
		EndAttempt(as, Outcome{ResponseModel: "gpt-4o", InputTokens: 10, OutputTokens: 20, Status: 200})
		EndRequest(rs, RequestEnd{Status: 200, KeyName: "k", Team: "t", Model: "gpt-4o", InputTokens: 10, OutputTokens: 20})
	}
}

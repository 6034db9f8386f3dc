// Package tracing exports OpenTelemetry traces of the gateway over OTLP/HTTP.
//
// One trace per client request: a server span started by StartRequest, an
// internal span per gateway hop that matters (Hop: "authenticate", "limit",
// "route", ...), and a client span per upstream attempt (StartAttempt), named
// and attributed after the OpenTelemetry GenAI semantic conventions
// ("chat gpt-4o", gen_ai.operation.name, gen_ai.provider.name,
// gen_ai.request.model, gen_ai.usage.input_tokens, ...). A W3C traceparent /
// tracestate sent by the client is honoured (the server span becomes its
// child, and a sampled parent is always followed), and Inject sends the
// attempt's context upstream. Baggage is neither read nor forwarded: it is a
// free-form channel that could carry user data.
//
// # Off unless configured, free when off
//
// New with an empty Config.Endpoint returns a disabled Tracer (a nil *Tracer
// is disabled too). A disabled Tracer creates no SDK objects and its methods
// allocate nothing: they return the context unchanged and a no-op span, and
// EndAttempt / EndRequest return at once for spans that are not recording
// (disabled, or not sampled). When tracing is off the gateway should still
// forward the client's trace context upstream unchanged, so the caller's
// trace is not broken by passing through us: call PassThrough(in, out)
// instead of Inject when !Enabled().
//
// # What never enters a span
//
// Spans carry metadata only: method, path, status codes, model names,
// provider names, token counts, cost, the gateway's request id, and the NAME
// of the API key and its team. Prompts, completions, tool arguments, API key
// secrets, upstream credentials, request or response bodies, end-user ids
// (the OpenAI "user" field or similar), client IP addresses and User-Agent
// strings are never recorded; callers must not add them to the returned
// spans either. Traces leave the process to a collector that is typically
// less protected than the gateway's own logs, so personal data must not
// enter them.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures tracing. The zero value means tracing is off.
type Config struct {
	// Endpoint is the OTLP/HTTP base URL of the collector, e.g.
	// http://otel-collector:4318; spans are POSTed to Endpoint+"/v1/traces"
	// (a URL already ending in /v1/traces is used as is). http:// means
	// plain text, https:// TLS with the system roots. "" turns tracing off.
	Endpoint string
	// Headers are sent with every export (e.g. authentication).
	Headers map[string]string
	// SampleRatio is the fraction of new traces (no incoming traceparent)
	// that are sampled, in (0, 1]; 0 means 1.0. Sampling is parent-based:
	// an incoming traceparent's sampled flag is always followed.
	SampleRatio float64
	// ServiceName is the resource's service.name; default "switchboard".
	ServiceName string
	// Version is the resource's service.version (omitted when "").
	Version string
}

// Attribute keys. GenAI, HTTP, server, url and error keys follow the
// OpenTelemetry semantic conventions; switchboard.* are the gateway's own.
const (
	keyGenAIOperation     = attribute.Key("gen_ai.operation.name")
	keyGenAIProvider      = attribute.Key("gen_ai.provider.name")
	keyGenAIRequestModel  = attribute.Key("gen_ai.request.model")
	keyGenAIMaxTokens     = attribute.Key("gen_ai.request.max_tokens")
	keyGenAITemperature   = attribute.Key("gen_ai.request.temperature")
	keyGenAIResponseModel = attribute.Key("gen_ai.response.model")
	keyGenAIFinish        = attribute.Key("gen_ai.response.finish_reasons")
	keyGenAIInputTokens   = attribute.Key("gen_ai.usage.input_tokens")
	keyGenAIOutputTokens  = attribute.Key("gen_ai.usage.output_tokens")
	keyServerAddress      = attribute.Key("server.address")
	keyServerPort         = attribute.Key("server.port")
	keyHTTPMethod         = attribute.Key("http.request.method")
	keyHTTPStatus         = attribute.Key("http.response.status_code")
	keyHTTPRoute          = attribute.Key("http.route")
	keyURLPath            = attribute.Key("url.path")
	keyErrorType          = attribute.Key("error.type")
	keyServiceName        = attribute.Key("service.name")
	keyServiceVersion     = attribute.Key("service.version")

	keyRequestID = attribute.Key("switchboard.request_id")
	keyAttempt   = attribute.Key("switchboard.attempt")
	keyProvider  = attribute.Key("switchboard.provider")
	keyKey       = attribute.Key("switchboard.key")
	keyTeam      = attribute.Key("switchboard.team")
	keyCost      = attribute.Key("switchboard.cost_usd")
)

// instrumentationName is the tracer's instrumentation scope.
const instrumentationName = "github.com/switchboard-gw/switchboard/internal/tracing"

// exportTimeout bounds one export request to the collector.
const exportTimeout = 10 * time.Second

// disabledSpan is what a disabled Tracer hands out. noop.Span is zero-sized,
// so returning it in a trace.Span allocates nothing; it is never the caller's
// context span, so ending it cannot end a span someone else owns.
var disabledSpan trace.Span = noop.Span{}

// propagator reads and writes W3C traceparent/tracestate only (no baggage).
var propagator = propagation.TraceContext{}

// Tracer starts the gateway's spans. A nil *Tracer, or one made by New from
// a Config without Endpoint, is disabled; all methods are safe on it.
type Tracer struct {
	tp        *sdktrace.TracerProvider
	tracer    trace.Tracer
	transport *http.Transport
}

// New returns a Tracer for cfg. With cfg.Endpoint == "" it returns a disabled
// Tracer and no error, creating nothing. Otherwise it builds an SDK tracer
// provider (batch span processor, OTLP/HTTP protobuf exporter, resource
// service.name/service.version, ParentBased(TraceIDRatioBased(SampleRatio))
// sampler). It does not contact the collector and does not touch the
// OpenTelemetry globals. Call Shutdown to flush and stop it.
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	if cfg.Endpoint == "" {
		return &Tracer{}, nil
	}
	endpoint, err := exportURL(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	ratio := cfg.SampleRatio
	if ratio == 0 {
		ratio = 1
	}
	if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %v is not in (0, 1]", cfg.SampleRatio)
	}
	name := cfg.ServiceName
	if name == "" {
		name = "switchboard"
	}
	attrs := []attribute.KeyValue{keyServiceName.String(name)}
	if cfg.Version != "" {
		attrs = append(attrs, keyServiceVersion.String(cfg.Version))
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}

	// Our own transport (rather than the exporter's shared one) so Shutdown
	// can close its idle connections and leave no goroutines behind.
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: transport, Timeout: exportTimeout}),
		otlptracehttp.WithTimeout(exportTimeout),
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	t := &Tracer{tp: tp, transport: transport}
	if cfg.Version != "" {
		t.tracer = tp.Tracer(instrumentationName, trace.WithInstrumentationVersion(cfg.Version))
	} else {
		t.tracer = tp.Tracer(instrumentationName)
	}
	return t, nil
}

// exportURL validates the configured base URL and returns the traces URL.
func exportURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("tracing: endpoint %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tracing: endpoint %q: want an http:// or https:// URL with a host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("tracing: endpoint %q: must not have user info, a query or a fragment", base)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/v1/traces") {
		p += "/v1/traces"
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracer) Enabled() bool { return t != nil && t.tp != nil }

// Shutdown flushes pending spans to the collector and stops the exporter;
// ctx bounds the flush. A disabled Tracer returns nil. Spans started after
// Shutdown are dropped.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	err := t.tp.Shutdown(ctx)
	t.transport.CloseIdleConnections()
	return err
}

// StartRequest extracts the W3C traceparent/tracestate from r's headers and
// starts the server span for the request, named "{method} {route}" (the
// ServeMux pattern when r was routed by one, else the URL path, e.g.
// "POST /v1/chat/completions"), with http.request.method, url.path,
// http.route (when known) and switchboard.request_id. Disabled: returns ctx
// unchanged and a no-op span, allocating nothing.
func (t *Tracer) StartRequest(ctx context.Context, r *http.Request, requestID string) (context.Context, trace.Span) {
	if !t.Enabled() {
		return ctx, disabledSpan
	}
	ctx = propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	method := normalizeMethod(r.Method)
	route := ""
	if p := r.Pattern; p != "" {
		// Go 1.22 patterns are "[METHOD ][HOST]/PATH".
		if i := strings.IndexByte(p, ' '); i >= 0 {
			p = strings.TrimLeft(p[i+1:], " ")
		}
		if i := strings.IndexByte(p, '/'); i > 0 {
			p = p[i:]
		}
		route = p
	}
	name := route
	if name == "" {
		name = r.URL.Path
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs,
		keyHTTPMethod.String(method),
		keyURLPath.String(r.URL.Path),
		keyRequestID.String(requestID),
	)
	if route != "" {
		attrs = append(attrs, keyHTTPRoute.String(route))
	}
	return t.tracer.Start(ctx, method+" "+name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attrs...),
	)
}

// normalizeMethod returns m when it is a known HTTP method, else "_OTHER"
// (semantic conventions: unknown methods must not raise cardinality).
func normalizeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// Hop starts an internal span for a gateway hop ("authenticate", "limit",
// "route", ...) as a child of ctx's span; the caller ends it. Disabled:
// returns ctx unchanged and a no-op span.
func (t *Tracer) Hop(ctx context.Context, name string) (context.Context, trace.Span) {
	if !t.Enabled() {
		return ctx, disabledSpan
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
}

// Attempt describes one upstream attempt.
type Attempt struct {
	// Operation is the GenAI operation name ("chat", "embeddings", ...);
	// "" means "chat".
	Operation string
	// ProviderType is the configured provider type (openai, azure,
	// anthropic, gemini, vertex, bedrock, simulator, or an OpenAI-compatible
	// preset), mapped to gen_ai.provider.name.
	ProviderType string
	// ProviderName is the configured provider's name (switchboard.provider).
	ProviderName string
	// Model is the model sent upstream (gen_ai.request.model).
	Model string
	// ServerAddress is the upstream host, optionally host:port.
	ServerAddress string
	// Number is the 1-based attempt number within the request.
	Number int
	// MaxTokens is the requested output limit; 0 means unset.
	MaxTokens int64
	// Temperature is recorded when HasTemperature.
	Temperature    float64
	HasTemperature bool
}

// GenAI provider names (gen_ai.provider.name well-known values).
func genAIProvider(typ string) string {
	switch typ {
	case "openai":
		return "openai"
	case "azure":
		return "azure.ai.openai"
	case "anthropic":
		return "anthropic"
	case "gemini":
		return "gcp.gemini"
	case "vertex":
		return "gcp.vertex_ai"
	case "bedrock":
		return "aws.bedrock"
	case "simulator":
		return "switchboard.simulator"
	}
	// OpenAI-compatible presets speak the OpenAI API.
	return "openai"
}

// StartAttempt starts the client span of one upstream attempt, a child of
// ctx's span, named "{operation} {model}" (e.g. "chat gpt-4o") with
// gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
// gen_ai.request.max_tokens / temperature (when set), server.address,
// server.port (when ServerAddress has one), switchboard.attempt and
// switchboard.provider. End it with EndAttempt. Disabled: returns ctx
// unchanged and a no-op span.
func (t *Tracer) StartAttempt(ctx context.Context, a Attempt) (context.Context, trace.Span) {
	if !t.Enabled() {
		return ctx, disabledSpan
	}
	op := a.Operation
	if op == "" {
		op = "chat"
	}
	name := op
	if a.Model != "" {
		name = op + " " + a.Model
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		keyGenAIOperation.String(op),
		keyGenAIProvider.String(genAIProvider(a.ProviderType)),
		keyAttempt.Int(a.Number),
		keyProvider.String(a.ProviderName),
	)
	if a.Model != "" {
		attrs = append(attrs, keyGenAIRequestModel.String(a.Model))
	}
	if a.ServerAddress != "" {
		host, port := a.ServerAddress, ""
		if h, p, err := net.SplitHostPort(a.ServerAddress); err == nil {
			host, port = h, p
		}
		attrs = append(attrs, keyServerAddress.String(host))
		if n, err := strconv.Atoi(port); err == nil && n > 0 {
			attrs = append(attrs, keyServerPort.Int(n))
		}
	}
	if a.MaxTokens > 0 {
		attrs = append(attrs, keyGenAIMaxTokens.Int64(a.MaxTokens))
	}
	if a.HasTemperature {
		attrs = append(attrs, keyGenAITemperature.Float64(a.Temperature))
	}
	return t.tracer.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...),
	)
}

// Outcome is the result of one upstream attempt.
type Outcome struct {
	// ResponseModel is the model the upstream says answered.
	ResponseModel string
	// InputTokens and OutputTokens are the upstream's usage; recorded when
	// either is non-zero.
	InputTokens, OutputTokens int64
	// Status is the upstream HTTP status; 0 when no response arrived.
	Status int
	// ErrorClass is the gateway's failure class ("rate_limit", "timeout",
	// ...); "" when the attempt succeeded.
	ErrorClass string
	// FinishReasons are the choices' finish reasons ("stop", "length", ...).
	FinishReasons []string
}

// EndAttempt records o on an attempt span and ends it: gen_ai.response.model,
// gen_ai.usage.input_tokens / output_tokens, gen_ai.response.finish_reasons,
// http.response.status_code, and for a failed attempt error.type (ErrorClass,
// or the status code for an unclassified 4xx/5xx) with span status Error.
// Spans that are not recording (disabled or unsampled) return at once.
func EndAttempt(span trace.Span, o Outcome) {
	if span == nil || !span.IsRecording() {
		return
	}
	if o.ResponseModel != "" {
		span.SetAttributes(keyGenAIResponseModel.String(o.ResponseModel))
	}
	if o.InputTokens != 0 || o.OutputTokens != 0 {
		span.SetAttributes(
			keyGenAIInputTokens.Int64(o.InputTokens),
			keyGenAIOutputTokens.Int64(o.OutputTokens),
		)
	}
	if len(o.FinishReasons) > 0 {
		span.SetAttributes(keyGenAIFinish.StringSlice(o.FinishReasons))
	}
	if o.Status != 0 {
		span.SetAttributes(keyHTTPStatus.Int(o.Status))
	}
	errType := o.ErrorClass
	if errType == "" && o.Status >= 400 {
		errType = strconv.Itoa(o.Status)
	}
	if errType != "" {
		span.SetAttributes(keyErrorType.String(errType))
		span.SetStatus(codes.Error, errType)
	}
	span.End()
}

// RequestEnd is the result of a whole client request.
type RequestEnd struct {
	// Status is the HTTP status sent to the client.
	Status int
	// ErrorClass is the failure class, "" on success.
	ErrorClass string
	// KeyName is the API key's configured NAME (never its secret); Team its
	// team.
	KeyName, Team string
	// Model is the model the client asked for.
	Model string
	// InputTokens and OutputTokens are the request's usage.
	InputTokens, OutputTokens int64
	// CostUSD is the request's cost; recorded when non-zero.
	CostUSD float64
}

// EndRequest records e on the server span and ends it:
// http.response.status_code, error.type, switchboard.key, switchboard.team,
// gen_ai.request.model, gen_ai.usage.*, switchboard.cost_usd. Following the
// HTTP conventions for server spans, the span status is Error only for 5xx
// responses (or a failure with no status); a 4xx still gets error.type.
// Spans that are not recording (disabled or unsampled) return at once.
func EndRequest(span trace.Span, e RequestEnd) {
	if span == nil || !span.IsRecording() {
		return
	}
	if e.Status != 0 {
		span.SetAttributes(keyHTTPStatus.Int(e.Status))
	}
	if e.KeyName != "" {
		span.SetAttributes(keyKey.String(e.KeyName))
	}
	if e.Team != "" {
		span.SetAttributes(keyTeam.String(e.Team))
	}
	if e.Model != "" {
		span.SetAttributes(keyGenAIRequestModel.String(e.Model))
	}
	if e.InputTokens != 0 || e.OutputTokens != 0 {
		span.SetAttributes(
			keyGenAIInputTokens.Int64(e.InputTokens),
			keyGenAIOutputTokens.Int64(e.OutputTokens),
		)
	}
	if e.CostUSD != 0 {
		span.SetAttributes(keyCost.Float64(e.CostUSD))
	}
	errType := e.ErrorClass
	if errType == "" && e.Status >= 500 {
		errType = strconv.Itoa(e.Status)
	}
	if errType != "" {
		span.SetAttributes(keyErrorType.String(errType))
		if e.Status >= 500 || e.Status == 0 {
			span.SetStatus(codes.Error, errType)
		}
	}
	span.End()
}

// Inject writes the W3C traceparent (and tracestate) of ctx's span into h,
// for the upstream request; pass the context returned by StartAttempt. An
// unsampled span is still propagated (with the sampled flag off), so the
// upstream follows our decision. Disabled: does nothing (see PassThrough).
func (t *Tracer) Inject(ctx context.Context, h http.Header) {
	if !t.Enabled() || h == nil {
		return
	}
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// W3C trace context header names, canonical.
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
)

// maxTracestate bounds a forwarded tracestate: W3C Trace Context lets a
// platform drop a tracestate longer than 512 characters.
const maxTracestate = 512

// errNotTraceparent is returned by parseTraceparent for a malformed header.
var errNotTraceparent = errors.New("not a traceparent")

// PassThrough copies the client's traceparent (and its tracestate) from the
// incoming headers in to the upstream headers out, unchanged, so a trace the
// client started is not broken by the gateway when tracing is off. Use it
// instead of Tracer.Inject when !Enabled() (with tracing on, Inject sends
// our own span as parent instead). A missing or malformed traceparent, or an
// oversized tracestate, is not forwarded. It allocates only when there is a
// header to copy.
func PassThrough(in, out http.Header) {
	if in == nil || out == nil {
		return
	}
	tp := in[headerTraceparent]
	if len(tp) != 1 || parseTraceparent(tp[0]) != nil {
		return
	}
	out[headerTraceparent] = []string{tp[0]}
	if ts := in[headerTracestate]; len(ts) > 0 {
		v := strings.Join(ts, ",")
		if len(v) <= maxTracestate {
			out[headerTracestate] = []string{v}
		}
	}
}

// parseTraceparent checks the W3C traceparent shape
// "vv-<32 hex>-<16 hex>-ff" (longer values allowed for future versions, as
// the spec asks), rejecting version ff and all-zero ids.
func parseTraceparent(v string) error {
	if len(v) < 55 || (len(v) > 55 && (v[0:2] == "00" || v[55] != '-')) {
		return errNotTraceparent
	}
	if v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return errNotTraceparent
	}
	if !isLowerHex(v[0:2]) || v[0:2] == "ff" || !isLowerHex(v[3:35]) || !isLowerHex(v[36:52]) || !isLowerHex(v[53:55]) {
		return errNotTraceparent
	}
	if v[3:35] == "00000000000000000000000000000000" || v[36:52] == "0000000000000000" {
		return errNotTraceparent
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

package telemetry

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label policy. Every label value is bounded: at most maxLabelLen bytes (cut
// on a rune boundary; invalid UTF-8 is replaced), and the team label keeps at
// most maxTeams distinct values. Metrics are never labelled by API key, key
// id, user id, prompt or any other per-caller or per-request value: each
// distinct label value is a time series held in memory here and in
// Prometheus, so such labels would grow without bound.
const (
	maxLabelLen = 64
	// maxTeams bounds the team label. Team names can come from JWT claims,
	// i.e. from whoever holds a valid token, not only from our config: an
	// unbounded label would let a caller mint a new time series per request
	// and exhaust the gateway's and Prometheus's memory. The first maxTeams
	// distinct teams seen since start keep their name; later ones are
	// reported as teamOther.
	maxTeams = 200
	// maxTeamMemo bounds the memo of names already mapped to teamOther, so
	// they stay on the lock-free-read fast path without growing forever.
	maxTeamMemo = 10000

	teamNone  = "none"
	teamOther = "other"
)

// Label values used when a field is empty.
const (
	unknownValue = "unknown"
	noneValue    = "none"
)

// durationBuckets cover an LLM gateway's range: a cache hit or a refusal
// answers in milliseconds, a long generation takes minutes.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// ttftBuckets are finer below a few seconds, where time to first token lives.
var ttftBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60}

// statusLabels holds the label of every plausible HTTP status, so the hot
// path does not format (and allocate) one per request.
var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// Request is one finished request, observed once by the gateway's finish hop.
type Request struct {
	Endpoint     string        // "/v1/chat/completions", ...
	Model        string        // the configured model name the client asked for; "" when unknown (label "unknown")
	Provider     string        // provider that answered, "" when none ("none")
	Team         string        // the caller's team, "" for none ("none")
	Status       int           // HTTP status sent
	ErrorClass   string        // "", rate_limit, server_error, timeout, context_window, content_policy, quota, client, ... ("" is labelled "none")
	Stream       bool          //
	Latency      time.Duration // gateway total
	Upstream     time.Duration // time spent in upstream attempts (0 when none)
	TTFT         time.Duration // time to first byte to the client (0 when none)
	InputTokens  int64
	OutputTokens int64
	CachedTokens int64
	CostUSD      float64
	Attempts     int    // upstream attempts made (not counted here: Retry counts each retry)
	Fallback     bool   // answered by a fallback model (not counted here: Fallback counts each switch)
	CacheHit     bool   // not counted here: Cache counts every lookup, hit or miss
	Refused      string // "", "rate_limit", "budget": refused by the gateway's own limits
}

// Circuit is one deployment's circuit-breaker state.
type Circuit struct {
	Provider, Model string
	State           int // 0 closed, 1 half-open, 2 open
}

// Metrics is the gateway's Prometheus registry and its metrics. It is safe
// for concurrent use; every method is cheap enough for the request path.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	requests    *prometheus.CounterVec   // endpoint, model, provider, team, status, error_class
	duration    *prometheus.HistogramVec // endpoint, model, provider, stream
	upstream    *prometheus.HistogramVec // provider, model
	ttft        *prometheus.HistogramVec // model, provider
	tokens      *prometheus.CounterVec   // model, provider, team, direction
	cost        *prometheus.CounterVec   // model, provider, team
	retries     *prometheus.CounterVec   // provider, class
	fallbacks   *prometheus.CounterVec   // from, to
	refused     *prometheus.CounterVec   // reason, team
	cache       *prometheus.CounterVec   // model, result
	saved       *prometheus.CounterVec   // model
	inFlight    prometheus.Gauge
	upInFl      *prometheus.GaugeVec // provider
	upInFlChild sync.Map             // provider name -> prometheus.Gauge
	buildInfo   *prometheus.GaugeVec // version

	circuitSource atomic.Pointer[func() []Circuit]

	// mu guards teams and children, the hot path's memo of bounded team
	// names and resolved label children: one read lock and two map lookups
	// per request instead of a label hash and lock per metric.
	mu        sync.RWMutex
	teams     map[string]string // bounded raw name -> label ("other" past maxTeams)
	teamCount int               // distinct real team labels handed out
	children  map[reqKey]*reqChildren

	buildMu sync.Mutex
}

// reqKey is the bounded label values of one request.
type reqKey struct {
	endpoint, model, provider, team, status, errorClass string
	stream                                              bool
}

// reqChildren are the label children one reqKey observes into. Children that
// would only make empty series for a request with no provider are nil and
// resolved per call if ever needed.
type reqChildren struct {
	requests                          prometheus.Counter
	duration                          prometheus.Observer
	upstream, ttft                    prometheus.Observer
	tokIn, tokOut, tokCached, costUSD prometheus.Counter
}

// NewMetrics builds the registry with the gateway's metrics and the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	const ns = "switchboard"
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		teams:    make(map[string]string),
		children: make(map[reqKey]*reqChildren),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "requests_total",
			Help: "Finished gateway requests by endpoint, model asked for, provider that answered, team, HTTP status and error class.",
		}, []string{"endpoint", "model", "provider", "team", "status", "error_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "request_duration_seconds",
			Help:    "Gateway total latency of finished requests, seconds.",
			Buckets: durationBuckets,
		}, []string{"endpoint", "model", "provider", "stream"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "upstream_duration_seconds",
			Help:    "Time a request spent in upstream attempts, seconds (requests that reached a provider only).",
			Buckets: durationBuckets,
		}, []string{"provider", "model"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "time_to_first_token_seconds",
			Help:    "Time to the first byte sent to the client of streamed requests, seconds.",
			Buckets: ttftBuckets,
		}, []string{"model", "provider"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "tokens_total",
			Help: "Tokens of finished requests by direction (input, output, cached input).",
		}, []string{"model", "provider", "team", "direction"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cost_usd_total",
			Help: "Estimated spend of finished requests, US dollars.",
		}, []string{"model", "provider", "team"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "retries_total",
			Help: "Retried upstream attempts by provider and the error class that caused the retry.",
		}, []string{"provider", "class"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "fallbacks_total",
			Help: "Switches from a model to a fallback model.",
		}, []string{"from", "to"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "refused_total",
			Help: "Requests refused by the gateway's own limits (rate_limit, budget) by team.",
		}, []string{"reason", "team"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cache_requests_total",
			Help: "Response cache lookups by model and result (hit, miss); only requests that used the cache.",
		}, []string{"model", "result"}),
		saved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cache_saved_usd_total",
			Help: "USD that response cache hits saved (the cost of the calls they replaced), by model.",
		}, []string{"model"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "in_flight_requests",
			Help: "Gateway requests in flight.",
		}),
		upInFl: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "upstream_in_flight_requests",
			Help: "Upstream requests in flight by provider.",
		}, []string{"provider"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "build_info",
			Help: "Always 1; the version label is the running gateway's version.",
		}, []string{"version"}),
	}
	m.reg.MustRegister(
		m.requests, m.duration, m.upstream, m.ttft, m.tokens, m.cost,
		m.retries, m.fallbacks, m.refused, m.cache, m.saved, m.inFlight, m.upInFl,
		m.buildInfo, &circuitCollector{m: m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// One failing collector must not blank the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// Counts scrape errors as promhttp_metric_handler_errors_total.
		Registry: m.reg,
		// Concurrent scrapes share one gather.
		CoalesceGather: true,
	})
	return m
}

// Handler serves the registry in the Prometheus exposition formats, for
// GET /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry is the registry the metrics live in (not the global default).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records one finished request: requests_total,
// request_duration_seconds, upstream_duration_seconds (when Upstream > 0),
// time_to_first_token_seconds (streams with TTFT > 0), tokens_total and
// cost_usd_total (positive values only) and refused_total (when Refused is
// set). Retries, fallbacks and cache lookups are counted by their own
// methods, so Attempts, Fallback and CacheHit are not counted here.
func (m *Metrics) ObserveRequest(r Request) {
	k := reqKey{
		endpoint:   bound(r.Endpoint, unknownValue),
		model:      bound(r.Model, unknownValue),
		provider:   bound(r.Provider, noneValue),
		status:     statusLabel(r.Status),
		errorClass: bound(r.ErrorClass, noneValue),
		stream:     r.Stream,
	}
	rawTeam := bound(r.Team, teamNone)

	var c *reqChildren
	m.mu.RLock()
	team, ok := m.teams[rawTeam]
	if ok {
		k.team = team
		c = m.children[k]
	}
	m.mu.RUnlock()
	if c == nil {
		k.team, c = m.resolve(k, rawTeam)
	}

	c.requests.Inc()
	c.duration.Observe(r.Latency.Seconds())
	if r.Upstream > 0 {
		o := c.upstream
		if o == nil {
			o = m.upstream.WithLabelValues(k.provider, k.model)
		}
		o.Observe(r.Upstream.Seconds())
	}
	if r.Stream && r.TTFT > 0 {
		o := c.ttft
		if o == nil {
			o = m.ttft.WithLabelValues(k.model, k.provider)
		}
		o.Observe(r.TTFT.Seconds())
	}
	if r.InputTokens > 0 || r.OutputTokens > 0 || r.CachedTokens > 0 || r.CostUSD > 0 {
		m.addUsage(c, k, r)
	}
	if r.Refused != "" {
		m.refused.WithLabelValues(bound(r.Refused, unknownValue), k.team).Inc()
	}
}

// addUsage adds a request's tokens and cost. Counters only take positive,
// finite values (Add panics on negative ones).
func (m *Metrics) addUsage(c *reqChildren, k reqKey, r Request) {
	if c.costUSD == nil { // no provider: no pre-resolved usage children
		c = &reqChildren{
			tokIn:     m.tokens.WithLabelValues(k.model, k.provider, k.team, "input"),
			tokOut:    m.tokens.WithLabelValues(k.model, k.provider, k.team, "output"),
			tokCached: m.tokens.WithLabelValues(k.model, k.provider, k.team, "cached"),
			costUSD:   m.cost.WithLabelValues(k.model, k.provider, k.team),
		}
	}
	addPositive(c.tokIn, float64(r.InputTokens))
	addPositive(c.tokOut, float64(r.OutputTokens))
	addPositive(c.tokCached, float64(r.CachedTokens))
	addPositive(c.costUSD, r.CostUSD)
}

// addPositive adds v when it is positive and finite; NaN, negatives and
// +Inf are dropped.
func addPositive(c prometheus.Counter, v float64) {
	if v > 0 && v <= math.MaxFloat64 {
		c.Add(v)
	}
}

// resolve is ObserveRequest's slow path: it admits the team and resolves the
// key's label children, once per distinct label set. It returns the team
// label and the children.
func (m *Metrics) resolve(k reqKey, rawTeam string) (string, *reqChildren) {
	m.mu.Lock()
	defer m.mu.Unlock()
	team, ok := m.teams[rawTeam]
	if !ok {
		team = m.admitTeam(rawTeam)
	}
	k.team = team
	if c := m.children[k]; c != nil {
		return team, c
	}
	// Clone: the values may be substrings of larger request data, which the
	// registry would otherwise keep alive.
	k.endpoint, k.model, k.provider = strings.Clone(k.endpoint), strings.Clone(k.model), strings.Clone(k.provider)
	k.errorClass = strings.Clone(k.errorClass)
	stream := "false"
	if k.stream {
		stream = "true"
	}
	c := &reqChildren{
		requests: m.requests.WithLabelValues(k.endpoint, k.model, k.provider, k.team, k.status, k.errorClass),
		duration: m.duration.WithLabelValues(k.endpoint, k.model, k.provider, stream),
	}
	// Requests no provider answered (refusals, cache hits, early errors)
	// would only add empty upstream, TTFT and usage series.
	if k.provider != noneValue {
		c.upstream = m.upstream.WithLabelValues(k.provider, k.model)
		if k.stream {
			c.ttft = m.ttft.WithLabelValues(k.model, k.provider)
		}
		c.tokIn = m.tokens.WithLabelValues(k.model, k.provider, k.team, "input")
		c.tokOut = m.tokens.WithLabelValues(k.model, k.provider, k.team, "output")
		c.tokCached = m.tokens.WithLabelValues(k.model, k.provider, k.team, "cached")
		c.costUSD = m.cost.WithLabelValues(k.model, k.provider, k.team)
	}
	m.children[k] = c
	return team, c
}

// admitTeam returns the label for a team not seen yet; m.mu is held.
func (m *Metrics) admitTeam(raw string) string {
	label := teamOther
	switch {
	case raw == teamNone || raw == teamOther:
		label = raw
	case m.teamCount < maxTeams:
		label = strings.Clone(raw)
		m.teamCount++
	}
	if label != teamOther || len(m.teams) < maxTeamMemo {
		m.teams[strings.Clone(raw)] = label
	}
	return label
}

// InFlight adds delta to the gateway requests in flight.
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(float64(delta)) }

// UpstreamInFlight adds delta to the upstream requests in flight to provider.
func (m *Metrics) UpstreamInFlight(provider string, delta int) {
	// Twice per upstream attempt: keep the child per provider instead of
	// hashing the label on every call.
	g, ok := m.upInFlChild.Load(provider)
	if !ok {
		g, _ = m.upInFlChild.LoadOrStore(provider, m.upInFl.WithLabelValues(bound(provider, noneValue)))
	}
	g.(prometheus.Gauge).Add(float64(delta))
}

// Retry counts a retried upstream attempt and the class of the failure that
// caused it.
func (m *Metrics) Retry(provider, class string) {
	m.retries.WithLabelValues(bound(provider, noneValue), bound(class, unknownValue)).Inc()
}

// Fallback counts a switch from model from to fallback model to.
func (m *Metrics) Fallback(from, to string) {
	m.fallbacks.WithLabelValues(bound(from, unknownValue), bound(to, unknownValue)).Inc()
}

// Cache counts a response cache lookup for model; call it only for requests
// that used the cache.
func (m *Metrics) Cache(model string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cache.WithLabelValues(bound(model, unknownValue), result).Inc()
}

// CacheSaved adds what a response cache hit saved.
func (m *Metrics) CacheSaved(model string, usd float64) {
	if usd > 0 && !math.IsInf(usd, 0) {
		m.saved.WithLabelValues(bound(model, unknownValue)).Add(usd)
	}
}

// SetBuildInfo sets build_info{version} to 1, replacing any earlier version.
func (m *Metrics) SetBuildInfo(version string) {
	m.buildMu.Lock()
	defer m.buildMu.Unlock()
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(bound(version, unknownValue)).Set(1)
}

// SetCircuitSource sets the callback circuit_state is read from at scrape
// time; nil removes it.
func (m *Metrics) SetCircuitSource(f func() []Circuit) {
	if f == nil {
		m.circuitSource.Store(nil)
		return
	}
	m.circuitSource.Store(&f)
}

var circuitDesc = prometheus.NewDesc("switchboard_circuit_state",
	"Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open.",
	[]string{"provider", "model"}, nil)

// circuitCollector reads circuit states from the callback at scrape time.
type circuitCollector struct{ m *Metrics }

func (c *circuitCollector) Describe(ch chan<- *prometheus.Desc) { ch <- circuitDesc }

func (c *circuitCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.circuitSource.Load()
	if f == nil {
		return
	}
	circuits := (*f)()
	// A duplicate label set would fail the whole gather; the first wins.
	seen := make(map[[2]string]bool, len(circuits))
	for _, cs := range circuits {
		p, mdl := bound(cs.Provider, noneValue), bound(cs.Model, unknownValue)
		if seen[[2]string{p, mdl}] {
			continue
		}
		seen[[2]string{p, mdl}] = true
		ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, float64(cs.State), p, mdl)
	}
}

// bound makes s a bounded label value: empty if s is "", valid UTF-8, at
// most maxLabelLen bytes cut on a rune boundary. It allocates only when it
// has to repair or cut s.
func bound(s, empty string) string {
	if s == "" {
		return empty
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= maxLabelLen {
		return s
	}
	i := maxLabelLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.Clone(s[:i])
}

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

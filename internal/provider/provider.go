// Package provider turns a configured upstream into something the gateway can
// send requests to: the upstream URL and auth for each operation, one tuned
// http.Transport per provider, its timeouts and its parameter allowlist.
//
// Types: openai (any OpenAI-compatible server), azure (deployment URLs,
// api-key header, api-version query), anthropic (the Messages API, reached
// through the translator in internal/wire/anthropic) and simulator (the
// built-in emulator, served in-process).
package provider

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/h1"
)

// Op is an upstream operation.
type Op int

const (
	// OpChat is POST chat/completions.
	OpChat Op = iota
	// OpEmbeddings is POST embeddings.
	OpEmbeddings
)

func (o Op) path() string {
	if o == OpEmbeddings {
		return "/embeddings"
	}
	return "/chat/completions"
}

// Dialect names a wire format.
type Dialect string

// Dialects.
const (
	// DialectOpenAI is the OpenAI Chat Completions / Embeddings wire format.
	DialectOpenAI Dialect = "openai"
	// DialectAnthropic is the Anthropic Messages API.
	DialectAnthropic Dialect = "anthropic"
	// DialectGemini is Google's generateContent API (Gemini API and Vertex AI).
	DialectGemini Dialect = "gemini"
	// DialectBedrock is Amazon Bedrock's Converse API.
	DialectBedrock Dialect = "bedrock"
)

// anthropicVersion is the Messages API version the gateway speaks.
const anthropicVersion = "2023-06-01"

// Provider is one configured upstream. It is immutable after Build and safe
// for concurrent use; a config reload builds new Providers, reusing those whose
// configuration did not change so their warm connections survive.
type Provider struct {
	Name     string
	Type     string
	Dialect  Dialect
	Timeouts Timeouts
	// DefaultMaxTokens is sent when a request gives no limit and the
	// provider requires one (anthropic).
	DefaultMaxTokens int64

	cfg       config.Provider
	base      string // base URL without a trailing slash
	keys      []string
	coolUntil []atomic.Int64 // per key: unix nanos until which it is skipped after a 429
	next      atomic.Uint32
	extra     map[string]bool
	reject    []string // OpenAI fields this provider type refuses
	// NoStreamOptions: do not ask for stream usage with stream_options (the
	// provider rejects it, or reports usage unasked).
	NoStreamOptions bool
	headers         http.Header
	rt              http.RoundTripper
	// NameHeader is []string{Name}, shared by every response that names
	// this provider (setting a header otherwise allocates the slice).
	NameHeader []string
	closeIdle  func()
	// auth, when set, authenticates a request itself (SigV4, OAuth) instead
	// of the key header; key is the index of the API key to use, -1 if none.
	auth func(req *http.Request, body []byte, key int) error
}

// Timeouts bound one upstream attempt. Connect covers dialing and the TLS
// handshake; FirstByte runs from sending the request until the first byte of
// the response body (not just the headers: a stream whose first event never
// comes is as dead as a server that never answers); Total bounds the whole
// exchange including streaming.
type Timeouts struct {
	Connect, FirstByte, Total time.Duration
}

// SimulatorFactory returns the in-process handler behind a simulator provider,
// given its fault spec. It is injected so this package need not depend on the
// emulator.
type SimulatorFactory func(faults string) (http.Handler, error)

// Build makes the Providers for cfgs. Providers in old whose configuration is
// unchanged are reused as they are.
func Build(cfgs []config.Provider, old map[string]*Provider, sim SimulatorFactory) (map[string]*Provider, error) {
	out := make(map[string]*Provider, len(cfgs))
	for _, c := range cfgs {
		if p, ok := old[c.Name]; ok && reflect.DeepEqual(p.cfg, c) {
			out[c.Name] = p
			continue
		}
		p, err := newProvider(c, sim)
		if err != nil {
			return nil, fmt.Errorf("provider %q: %w", c.Name, err)
		}
		out[c.Name] = p
	}
	return out, nil
}

// CloseUnused closes the idle connections of providers in old that are not in
// cur. In-flight requests on them finish normally.
func CloseUnused(old, cur map[string]*Provider) {
	for name, p := range old {
		if cur[name] != p {
			p.closeIdle()
		}
	}
}

func newProvider(c config.Provider, sim SimulatorFactory) (*Provider, error) {
	p := &Provider{
		Name:    c.Name,
		Type:    c.Type,
		Dialect: DialectOpenAI,
		Timeouts: Timeouts{
			Connect:   c.Timeouts.Connect.D(),
			FirstByte: c.Timeouts.FirstByte.D(),
			Total:     c.Timeouts.Total.D(),
		},
		DefaultMaxTokens: c.DefaultMaxTokens,
		cfg:              c,
		base:             strings.TrimRight(c.BaseURL, "/"),
		keys:             c.APIKeys,
		coolUntil:        make([]atomic.Int64, len(c.APIKeys)),
		extra:            make(map[string]bool, len(c.ExtraParams)),
		headers:          make(http.Header, len(c.Headers)),
	}
	p.NameHeader = []string{c.Name}
	for _, name := range c.ExtraParams {
		p.extra[name] = true
	}
	if ps, ok := presets[c.Type]; ok {
		for _, name := range ps.extra {
			p.extra[name] = true
		}
		p.reject, p.NoStreamOptions = ps.reject, ps.noStreamOptions
	}
	for k, v := range c.Headers {
		p.headers.Set(k, v)
	}
	_, isPreset := presets[c.Type]
	switch {
	case c.Type == "anthropic", c.Type == "gemini", c.Type == "vertex", c.Type == "bedrock":
		if err := p.setupDialect(c); err != nil {
			return nil, err
		}
		fallthrough
	case c.Type == "openai", c.Type == "azure", isPreset:
		if _, err := url.Parse(p.base); err != nil {
			return nil, fmt.Errorf("base_url: %w", err)
		}
		if fast := newFastTransport(c, p.base); fast != nil {
			p.rt, p.closeIdle = fast, fast.CloseIdleConnections
			break
		}
		t := newTransport(c)
		p.rt = t
		p.closeIdle = t.CloseIdleConnections
	case c.Type == "simulator":
		if sim == nil {
			return nil, fmt.Errorf("simulator providers are not available in this build")
		}
		h, err := sim(c.Faults)
		if err != nil {
			return nil, fmt.Errorf("faults: %w", err)
		}
		p.base = "http://simulator.internal/v1"
		p.rt = HandlerTransport{Handler: h}
		p.closeIdle = func() {}
	default:
		return nil, fmt.Errorf("unsupported type %q", c.Type)
	}
	return p, nil
}

// newTransport is the one tuned Transport of a provider. The defaults of
// http.DefaultTransport keep only 2 idle connections per host, which under load
// means a new TCP (and TLS) handshake for most requests; a gateway talks to few
// hosts a lot, so it keeps many.
func newTransport(c config.Provider) *http.Transport {
	connect := c.Timeouts.Connect.D()
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   connect,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		MaxConnsPerHost:       c.MaxConcurrency,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// newFastTransport is the gateway's own HTTP/1.1 client (package h1) for a
// plaintext base URL that no proxy variable applies to, unless the provider
// asks for net/http; nil otherwise. It has no goroutines of its own, which
// on a local inference server is most of what a hop costs (BENCHMARKS.md).
func newFastTransport(c config.Provider, base string) *h1.Transport {
	if c.HTTPClient == config.HTTPClientNetHTTP {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return nil
	}
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || proxy != nil {
		return nil
	}
	d := &net.Dialer{Timeout: c.Timeouts.Connect.D(), KeepAlive: 30 * time.Second}
	return &h1.Transport{
		DialContext:     d.DialContext,
		MaxIdlePerHost:  1024,
		MaxConnsPerHost: c.MaxConcurrency,
		IdleTimeout:     90 * time.Second,
		// Of a successful answer's headers the gateway reads the media
		// type only (internal/server); errors keep all of theirs.
		SuccessHeaders: []string{"Content-Type"},
	}
}

// Rejects returns the OpenAI request fields this provider type is known to
// refuse.
func (p *Provider) Rejects() []string { return p.reject }

// AllowsParam reports whether the provider accepts a top-level request field
// outside the OpenAI schema (config: extra_params).
func (p *Provider) AllowsParam(name string) bool { return p.extra[name] }

// NewRequest builds the upstream request for op on model, with body as the
// request body (already rewritten for this upstream). API keys are spread over
// requests round robin, skipping keys cooling down after a 429; key is the
// index of the key used, for CoolKey.
func (p *Provider) NewRequest(ctx context.Context, op Op, model string, stream bool, body []byte) (req *http.Request, key int, err error) {
	var target string
	switch p.Type {
	case "anthropic":
		if op != OpChat {
			return nil, 0, fmt.Errorf("provider %q (anthropic) has no embeddings API", p.Name)
		}
		target = p.base + "/v1/messages"
	case "azure":
		target = p.base + "/openai/deployments/" + url.PathEscape(model) + op.path() + "?api-version=" + url.QueryEscape(p.cfg.APIVersion)
	case "gemini", "vertex", "bedrock":
		if op != OpChat {
			return nil, 0, fmt.Errorf("provider %q (%s) has no embeddings API in this gateway", p.Name, p.Type)
		}
		target = p.cloudURL(model, stream)
	default:
		target = p.base + op.path()
	}
	req, err = newPost(ctx, target, body)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: new request: %w", p.Name, err)
	}
	p.setHeaders(req.Header)
	key = p.pickKey()
	if p.auth != nil {
		if err := p.auth(req, body, key); err != nil {
			return nil, 0, fmt.Errorf("%s: authenticate: %w", p.Name, err)
		}
		return req, key, nil
	}
	p.setKey(req.Header, key)
	return req, key, nil
}

// newPost is a POST of body, which the h1 Transport writes without a copy
// and net/http's reads like a bytes.Reader (and can read again).
func newPost(ctx context.Context, target string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, h1.NewBytes(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return h1.NewBytes(body), nil }
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
	return req, nil
}

// setHeaders sets the configured and the dialect's fixed headers.
func (p *Provider) setHeaders(h http.Header) {
	for k, v := range p.headers {
		h[k] = v
	}
	h["Content-Type"] = jsonContentType
	if p.Dialect == DialectAnthropic {
		h["Anthropic-Version"] = anthropicVersionHeader
	}
}

var (
	jsonContentType        = []string{"application/json"}
	anthropicVersionHeader = []string{anthropicVersion}
)

// setKey sets key i in the header this provider type expects.
func (p *Provider) setKey(h http.Header, i int) {
	if i < 0 {
		return
	}
	switch p.Type {
	case "anthropic":
		h.Set("X-Api-Key", p.keys[i])
	case "azure":
		h.Set("Api-Key", p.keys[i])
	default:
		h.Set("Authorization", "Bearer "+p.keys[i])
	}
}

// NewRequestPath is NewRequest for another path under an Anthropic
// provider's base URL (e.g. /v1/messages/count_tokens).
func (p *Provider) NewRequestPath(ctx context.Context, path string, body []byte) (*http.Request, int, error) {
	req, err := newPost(ctx, p.base+path, body)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: new request: %w", p.Name, err)
	}
	p.setHeaders(req.Header)
	key := p.pickKey()
	p.setKey(req.Header, key)
	return req, key, nil
}

// pickKey returns the next key round robin that is not cooling down; when
// all are, the one whose cool-down ends first. -1 means no keys.
func (p *Provider) pickKey() int {
	n := len(p.keys)
	switch n {
	case 0:
		return -1
	case 1:
		return 0
	}
	start := int(p.next.Add(1)-1) % n
	now := time.Now().UnixNano()
	best, bestUntil := start, int64(0)
	for j := range n {
		i := (start + j) % n
		until := p.coolUntil[i].Load()
		if until <= now {
			return i
		}
		if j == 0 || until < bestUntil {
			best, bestUntil = i, until
		}
	}
	return best
}

// CoolKey makes key i skipped for d, after the upstream rate limited it.
// With one key there is nothing to switch to, and it is a no-op.
func (p *Provider) CoolKey(i int, d time.Duration) {
	if i < 0 || i >= len(p.keys) || len(p.keys) < 2 || d <= 0 {
		return
	}
	p.coolUntil[i].Store(time.Now().Add(d).UnixNano())
}

// HasFreeKey reports whether some key is not cooling down (false with no
// keys or a single one: there is nothing to switch to).
func (p *Provider) HasFreeKey() bool {
	cooling, total := p.KeysCooling()
	return total > 1 && cooling < total
}

// KeysCooling counts the keys currently cooling down.
func (p *Provider) KeysCooling() (cooling, total int) {
	now := time.Now().UnixNano()
	for i := range p.coolUntil {
		if p.coolUntil[i].Load() > now {
			cooling++
		}
	}
	return cooling, len(p.keys)
}

// Do sends req with the provider's transport. It is one round trip:
// redirects are not followed (an API never redirects a POST, and following
// one could send the provider key to another host), and going straight to
// the Transport skips http.Client's per-request header and URL copies.
func (p *Provider) Do(req *http.Request) (*http.Response, error) {
	return p.rt.RoundTrip(req)
}

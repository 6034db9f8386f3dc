package server

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-gw/switchboard/internal/respcache"
	"github.com/switchboard-gw/switchboard/internal/route"
)

// cacheRequest is what the cache hop knows of a request.
type cacheRequest struct {
	stream       bool
	includeUsage bool
	personal     bool // metadata {"personal": "true"}: never cached
}

// cacheLookup is the response cache hop, after the limits (a hit still
// counts as a request) and before routing. On a hit it writes the stored
// answer and reports true; on a miss it arranges for the answer to be
// stored when it succeeds. Streamed and non-streamed answers are kept
// apart (the bytes differ), and a stream can also be made from a stored
// non-streamed chat completion.
func (s *Server) cacheLookup(x *exchange, r *http.Request, p *principal, m *route.Model, body []byte, cr cacheRequest) bool {
	rt := x.rt
	if !rt.cfg.Cache.Enabled || s.rcache == nil {
		return false
	}
	mode := r.Header.Get("X-Switchboard-Cache")
	if mode == "no-store" || cr.personal || (p != nil && p.noCache) {
		return false
	}
	base, err := respcache.Key(m.Name, r.URL.Path, body)
	if err != nil {
		return false // the request is refused later, or passes uncached
	}
	key := base
	if cr.stream {
		key = streamKey(base, cr.includeUsage)
	}
	if mode != "no-cache" {
		if e, ok := s.cacheGet(r.Context(), x, key); ok {
			s.serveCached(x, e, e.Stream, e.Body, cr.stream)
			return true
		}
		// A stream from a stored non-streamed chat completion.
		if cr.stream && !x.anthropic && r.URL.Path == "/v1/chat/completions" {
			if e, ok := s.cacheGet(r.Context(), x, base); ok && e.Body != nil {
				if sse, err := respcache.ChatStream(e.Body, cr.includeUsage); err == nil {
					e.ContentType = "text/event-stream"
					s.serveCached(x, e, sse, nil, true)
					return true
				}
			}
		}
	}
	s.metrics.Cache(m.Name, false)
	x.Header().Set("X-Switchboard-Cache", "miss")
	x.cacheKey = key
	x.startCapture()
	return false
}

func streamKey(base string, usage bool) string {
	return base + ":stream:" + strconv.FormatBool(usage)
}

func (s *Server) cacheGet(ctx context.Context, x *exchange, key string) (respcache.Entry, bool) {
	e, ok, err := s.rcache.Get(ctx, key)
	if err != nil {
		s.log.Warn("response cache read failed", "request_id", x.id, "error", err)
		return e, false
	}
	return e, ok
}

// serveCached writes a stored answer.
func (s *Server) serveCached(x *exchange, e respcache.Entry, stream, body []byte, streaming bool) {
	out := body
	if streaming {
		out = stream
	}
	x.cacheHit = true
	x.provider, x.upstream = e.Provider, e.Model
	x.usage.PromptTokens, x.usage.CompletionTokens, x.usage.CachedTokens = e.InputTokens, e.OutputTokens, e.CachedTokens
	x.saved = e.CostUSD
	s.metrics.Cache(x.modelLabel, true)
	s.metrics.CacheSaved(x.modelLabel, e.CostUSD)
	h := x.Header()
	h.Set("X-Switchboard-Cache", "hit")
	h.Set("X-Switchboard-Provider", e.Provider)
	h.Set("X-Switchboard-Model", e.Model)
	h.Set("Content-Type", e.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(out)))
	status := e.Status
	if status == 0 {
		status = http.StatusOK
	}
	x.WriteHeader(status)
	x.Write(out)
}

// cacheStore keeps a successful answer of a cache miss, off the request's
// path.
func (s *Server) cacheStore(x *exchange, cost float64) {
	if x.cacheKey == "" || x.cacheHit || x.status != http.StatusOK || x.errClass != "" || len(x.captured) == 0 {
		return
	}
	e := respcache.Entry{Status: x.status, ContentType: x.Header().Get("Content-Type"), Model: x.upstream, Provider: x.provider,
		InputTokens: x.usage.PromptTokens, OutputTokens: x.usage.CompletionTokens, CachedTokens: x.usage.CachedTokens,
		CostUSD: cost, Created: time.Now()}
	data := bytes.Clone(x.captured)
	if x.streaming {
		e.Stream = data
	} else {
		e.Body = data
	}
	key, ttl := x.cacheKey, x.rt.cfg.Cache.TTL.D()
	s.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.rcache.Set(ctx, key, e, ttl); err != nil {
			s.log.Warn("response cache write failed", "error", err)
		}
	})
}

// personal reports whether a request's metadata flags it as personal
// ({"personal": "true"}), which keeps it out of the response cache.
func personal(meta func([]byte) map[string]string, body []byte) bool {
	if !bytes.Contains(body, []byte(`"personal"`)) {
		return false
	}
	return meta(body)["personal"] == "true"
}

package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"

	"github.com/switchboard-gw/switchboard/internal/cache"
)

// idempotencyStore is what the server needs of cache.Memory and cache.Redis.
type idempotencyStore interface {
	Begin(ctx context.Context, key string, fp [32]byte) (*cache.Stored, error)
	Complete(ctx context.Context, key string, s *cache.Stored)
	Abort(ctx context.Context, key string)
}

// replayedHeaders are the response headers kept with an idempotent answer.
var replayedHeaders = []string{"Content-Type", "X-Switchboard-Provider", "X-Switchboard-Model", "X-Switchboard-Attempts", "X-Switchboard-Fallback"}

// idempotent runs next at most once per (caller key, Idempotency-Key) within
// the TTL: a repeat gets the stored answer, and a concurrent duplicate waits
// for the first instead of calling the provider again. Only successful
// answers are kept; after a failure the key may be used again. Streaming
// requests are not covered (a stream cannot be replayed faithfully).
func (s *Server) idempotent(x *exchange, r *http.Request, key *principal, body []byte, next func() error) error {
	ik := r.Header.Get("Idempotency-Key")
	if ik == "" || s.idem == nil {
		return next()
	}
	if len(ik) > 256 {
		return badRequest("Idempotency-Key", "the Idempotency-Key header is longer than 256 characters; use a shorter unique id such as a UUID")
	}
	ns := "open"
	if key != nil {
		ns = "key:" + key.keyID
	} else if x.rt.hasAdmin && !x.rt.open {
		ns = "admin"
	}
	id := ns + ":" + ik
	h := sha256.New()
	h.Write([]byte(r.URL.Path))
	h.Write([]byte{0})
	h.Write(body)
	var fp [32]byte
	h.Sum(fp[:0])

	stored, err := s.idem.Begin(r.Context(), id, fp)
	switch {
	case errors.Is(err, cache.ErrMismatch):
		return &Error{Status: http.StatusUnprocessableEntity, Type: "invalid_request_error", Code: "idempotency_key_reused", Param: "Idempotency-Key",
			Message: "this Idempotency-Key was already used for a different request; use a new key for a new request"}
	case err != nil && r.Context().Err() != nil:
		return errClientGone
	case err != nil:
		// The shared store is down: serve the request rather than fail it.
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "idempotency store unavailable; request not deduplicated",
			slog.String("request_id", x.id), slog.String("error", err.Error()))
		return next()
	case stored != nil:
		hdr := x.Header()
		for k, v := range stored.Header {
			hdr.Set(k, v)
		}
		hdr.Set("X-Switchboard-Idempotent-Replay", "true")
		x.WriteHeader(stored.Status)
		x.Write(stored.Body)
		return nil
	}

	x.startCapture()
	err = next()
	if err == nil && x.status/100 == 2 {
		res := &cache.Stored{Status: x.status, Body: bytes.Clone(x.captured), Fingerprint: fp, Header: make(map[string]string, len(replayedHeaders))}
		for _, k := range replayedHeaders {
			if v := x.Header().Get(k); v != "" {
				res.Header[k] = v
			}
		}
		s.idem.Complete(r.Context(), id, res)
	} else {
		s.idem.Abort(r.Context(), id)
	}
	return err
}

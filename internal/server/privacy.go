package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/switchboard-gw/switchboard/internal/privacy"
)

// notePrompt applies the prompt privacy policy of the request: the keyed
// hash of its prompt (and later of its answer, from the bytes written),
// and for a sampled request of a consenting key the raw text. Nothing of it
// goes to the log line or a trace.
func (s *Server) notePrompt(x *exchange, p *principal, body []byte) {
	rt := x.rt
	keyMode, consent := "", false
	if p != nil {
		keyMode, consent = p.privacy, p.consent
	}
	x.privacy = privacy.Decide(rt.cfg.Privacy.Mode, keyMode, consent, rt.cfg.Privacy.SampleRate)
	if !x.privacy.HashOn || s.usage == nil {
		x.privacy = privacy.Policy{Mode: privacy.Off}
		return
	}
	if x.privacy.Raw {
		text := privacy.Text(body)
		x.promptHash = s.hasher(rt).Sum(text)
		x.promptText = string(text)
	} else {
		x.promptHash = s.hasher(rt).SumText(body)
	}
	x.startCapture()
}

// hasher hashes with privacy.hash_key, else with the key kept in the store
// (made once, shared by the replicas), else with one for this process.
func (s *Server) hasher(rt *runtime) *privacy.Hasher {
	if rt.hasher != nil {
		return rt.hasher
	}
	return s.storedHasher
}

// loadHashKey reads (or makes) the store's hash key at start-up.
func (s *Server) loadHashKey(ctx context.Context) error {
	newKey := func() (string, error) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		return hex.EncodeToString(b[:]), nil
	}
	if s.store == nil {
		k, err := newKey()
		s.storedHasher = privacy.NewHasher([]byte(k))
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	k, err := s.store.Setting(ctx, "privacy_hash_key", newKey)
	if err != nil {
		return err
	}
	s.storedHasher = privacy.NewHasher([]byte(k))
	return nil
}

// purgeLoop deletes raw text past the retention period, at start and then
// every privacy.purge_every.
func (s *Server) purgeLoop(ctx context.Context) {
	for {
		rt := s.rt.Load()
		before := time.Now().Add(-rt.cfg.Privacy.Retention.D())
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		n, err := s.store.PurgeTexts(pctx, before)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("purging raw prompt text failed", "error", err)
		case n > 0:
			s.log.Info("purged raw prompt text past retention", "requests", n, "before", before.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rt.cfg.Privacy.PurgeEvery.D()):
		}
	}
}

// Package respcache is the gateway's exact-match response cache for LLM
// calls: a request whose model, endpoint and answer-relevant body are the
// same as an earlier one's is answered from the stored response instead of
// calling the provider again.
//
// The key of a request is computed by [Key]. Entries are kept in a [Cache]:
// [Memory] for a single process, [Redis] to share them between replicas.
//
// An entry holds whichever form of the answer the server produced: the
// non-streamed JSON body, the streamed SSE bytes, or both. How a request is
// served from an entry:
//
//   - a streamed request is served from Entry.Stream when it is set, else
//     from Entry.Body turned into a stream by [ChatStream] (OpenAI chat
//     completions only);
//   - a non-streamed request is served from Entry.Body; an entry that holds
//     only Stream is a miss for it (a stream is not turned back into a body).
package respcache

import (
	"context"
	"time"
)

// Entry is one cached answer.
type Entry struct {
	Status      int
	ContentType string
	// Body is the non-streamed answer (JSON).
	Body []byte
	// Stream is the streamed answer as the SSE bytes sent to the client,
	// when the request streamed. Either or both of Body and Stream may be
	// set.
	Stream []byte
	// Model is the upstream model that answered.
	Model    string
	Provider string

	InputTokens, OutputTokens, CachedTokens int64
	// CostUSD is what the original call cost: a hit saves this.
	CostUSD float64
	Created time.Time
}

// size is the number of bytes the entry's variable-length fields hold.
func (e *Entry) size() int64 {
	return int64(len(e.Body) + len(e.Stream) + len(e.ContentType) + len(e.Model) + len(e.Provider))
}

// Cache stores entries by the key [Key] computes.
//
// Get reports ok=false (and a nil error) on a miss. The slices of a returned
// Entry must be treated as read-only: [Memory] shares them between callers.
// Set with a ttl <= 0 stores nothing.
type Cache interface {
	Get(ctx context.Context, key string) (Entry, bool, error)
	Set(ctx context.Context, key string, e Entry, ttl time.Duration) error
}

var (
	_ Cache = (*Memory)(nil)
	_ Cache = (*Redis)(nil)
)

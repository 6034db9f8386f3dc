package respcache

import (
	"context"
	"math"
	"time"

	"github.com/maypok86/otter/v2"
)

// entryOverhead is the weight charged for an entry beyond its byte slices
// and strings: the Entry struct, the key and the cache's own node.
const entryOverhead = 256

// Memory is an in-process [Cache] bounded by the total size of its entries.
//
// It is an otter cache weighted by each entry's size (the lengths of Body,
// Stream and its strings plus the key and a fixed overhead per entry). When
// the total exceeds maxBytes, otter evicts entries by its W-TinyLFU policy:
// recency (LRU windows) combined with a frequency sketch, so an entry that is
// read often outlives one that was written once. Eviction is performed by
// otter's maintenance shortly after the write that overflows, so the total
// may exceed maxBytes briefly. An entry larger than maxBytes on its own is
// not stored.
//
// Each entry expires ttl after its Set (a later Set of the key replaces it
// and restarts its ttl); reads do not extend it.
//
// Set copies the entry's Body and Stream, so the caller may reuse its
// buffers. Get returns slices shared with the cache and with other callers:
// they must not be modified.
//
// Close stops otter's background clean-up goroutine.
type Memory struct {
	c        *otter.Cache[string, *memEntry]
	maxBytes int64
}

type memEntry struct {
	e      Entry
	ttl    time.Duration
	weight uint32
}

// NewMemory makes a memory cache holding at most about maxBytes of entries.
// A maxBytes <= 0 makes a cache that stores nothing.
func NewMemory(maxBytes int64) *Memory {
	m := &Memory{maxBytes: maxBytes}
	if maxBytes <= 0 {
		return m
	}
	m.c = otter.Must(&otter.Options[string, *memEntry]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ string, v *memEntry) uint32 { return v.weight },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *memEntry]) time.Duration {
			return e.Value.ttl
		}),
	})
	return m
}

// Get returns the entry stored under key, if it has not expired or been
// evicted.
func (m *Memory) Get(_ context.Context, key string) (Entry, bool, error) {
	if m.c == nil {
		return Entry{}, false, nil
	}
	v, ok := m.c.GetIfPresent(key)
	if !ok {
		return Entry{}, false, nil
	}
	return v.e, true, nil
}

// Set stores e under key for ttl. A ttl <= 0, or an entry whose weight alone
// exceeds the cache's maxBytes, stores nothing (and is not an error). A zero
// e.Created is set to the current time.
func (m *Memory) Set(_ context.Context, key string, e Entry, ttl time.Duration) error {
	if m.c == nil || ttl <= 0 {
		return nil
	}
	w := e.size() + int64(len(key)) + entryOverhead
	if w > m.maxBytes || w > math.MaxUint32 {
		// Too big to keep; drop any older entry of the key so a stale
		// answer is not served in its place.
		m.c.Invalidate(key)
		return nil
	}
	if e.Created.IsZero() {
		e.Created = time.Now()
	}
	e.Body = cloneBytes(e.Body)
	e.Stream = cloneBytes(e.Stream)
	m.c.Set(key, &memEntry{e: e, ttl: ttl, weight: uint32(w)})
	return nil
}

// Len is the number of entries held, including any that expired but were
// not yet cleaned up.
func (m *Memory) Len() int {
	if m.c == nil {
		return 0
	}
	return m.c.EstimatedSize()
}

// Size is the total weight of the entries held, in bytes (see [Memory]).
func (m *Memory) Size() int64 {
	if m.c == nil {
		return 0
	}
	return int64(m.c.WeightedSize())
}

// CleanUp performs otter's pending maintenance now: evictions and removal
// of expired entries. It is never needed for correctness.
func (m *Memory) CleanUp() {
	if m.c != nil {
		m.c.CleanUp()
	}
}

// Close stops the cache's background goroutines. The cache stays usable,
// but expired entries are then removed only during reads and writes.
func (m *Memory) Close() {
	if m.c != nil {
		m.c.StopAllGoroutines()
	}
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

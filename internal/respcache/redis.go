package respcache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxRedisEntryBytes is the largest encoded entry [Redis] stores: Set of a
// larger one stores nothing (and removes any older entry of the key), so a
// few huge answers cannot fill Redis or stall it with big transfers.
const MaxRedisEntryBytes = 4 << 20

// Redis is a [Cache] in Redis, shared by every replica that uses the same
// Redis and prefix. An entry is kept under prefix+"rc:"+key as a compact
// binary encoding (see encodeEntry), written with SET and an expiry of the
// entry's ttl (go-redis sends PX, or EX when the ttl is whole seconds). Entries whose encoding exceeds [MaxRedisEntryBytes] are not
// stored. Redis's own maxmemory policy governs eviction.
type Redis struct {
	c        redis.UniversalClient
	prefix   string
	maxBytes int
}

// NewRedis makes a Redis cache on client c (a *redis.Client, or any
// redis.UniversalClient) whose keys start with prefix.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: c, prefix: prefix + "rc:", maxBytes: MaxRedisEntryBytes}
}

func (r *Redis) key(key string) string { return r.prefix + key }

// Get returns the entry stored under key. A missing (or expired) key is a
// miss with a nil error; an entry that cannot be decoded is an error.
func (r *Redis) Get(ctx context.Context, key string) (Entry, bool, error) {
	b, err := r.c.Get(ctx, r.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("respcache: redis get: %w", err)
	}
	e, err := decodeEntry(b)
	if err != nil {
		return Entry{}, false, fmt.Errorf("respcache: redis entry %s: %w", key, err)
	}
	return e, true, nil
}

// Set stores e under key for ttl (at least a millisecond). A ttl <= 0
// stores nothing. An entry whose encoding exceeds [MaxRedisEntryBytes] is
// not stored and any older entry of the key is deleted; neither is an
// error. A zero e.Created is set to the current time.
func (r *Redis) Set(ctx context.Context, key string, e Entry, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	ttl = max(ttl, time.Millisecond)
	if e.Created.IsZero() {
		e.Created = time.Now()
	}
	if encodedSize(&e) > r.maxBytes {
		if err := r.c.Del(ctx, r.key(key)).Err(); err != nil {
			return fmt.Errorf("respcache: redis del: %w", err)
		}
		return nil
	}
	if err := r.c.Set(ctx, r.key(key), encodeEntry(&e), ttl).Err(); err != nil {
		return fmt.Errorf("respcache: redis set: %w", err)
	}
	return nil
}

// The encoding of an Entry is:
//
//	"RC" 0x01                       magic and version
//	varint   Status
//	string   ContentType, Model, Provider
//	bytes    Body, Stream
//	varint   InputTokens, OutputTokens, CachedTokens
//	8 bytes  CostUSD (IEEE 754 bits, little endian)
//	varint   Created seconds since the Unix epoch; uvarint its nanoseconds
//
// where a string is a uvarint length and its bytes, and a bytes field is a
// uvarint of length+1 (0 for nil) and its bytes.
const entryMagic = "RC\x01"

func encodedSize(e *Entry) int {
	// Fixed fields take at most 10 bytes each as varints.
	return len(entryMagic) + 11*binary.MaxVarintLen64 + 8 + int(e.size())
}

func encodeEntry(e *Entry) []byte {
	b := make([]byte, 0, encodedSize(e))
	b = append(b, entryMagic...)
	b = binary.AppendVarint(b, int64(e.Status))
	for _, s := range [...]string{e.ContentType, e.Model, e.Provider} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, p := range [...][]byte{e.Body, e.Stream} {
		if p == nil {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(p))+1)
		b = append(b, p...)
	}
	b = binary.AppendVarint(b, e.InputTokens)
	b = binary.AppendVarint(b, e.OutputTokens)
	b = binary.AppendVarint(b, e.CachedTokens)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.CostUSD))
	b = binary.AppendVarint(b, e.Created.Unix())
	b = binary.AppendUvarint(b, uint64(e.Created.Nanosecond()))
	return b
}

var errCorrupt = errors.New("corrupt cache entry")

type entryDecoder struct {
	b   []byte
	err error
}

func (d *entryDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryDecoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *entryDecoder) string() string { return string(d.take(d.uvarint())) }

func (d *entryDecoder) bytes() []byte {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	return d.take(n - 1)
}

func decodeEntry(b []byte) (Entry, error) {
	if len(b) < len(entryMagic) || string(b[:len(entryMagic)]) != entryMagic {
		return Entry{}, errCorrupt
	}
	d := entryDecoder{b: b[len(entryMagic):]}
	var e Entry
	e.Status = int(d.varint())
	e.ContentType = d.string()
	e.Model = d.string()
	e.Provider = d.string()
	e.Body = d.bytes()
	e.Stream = d.bytes()
	e.InputTokens = d.varint()
	e.OutputTokens = d.varint()
	e.CachedTokens = d.varint()
	if bits := d.take(8); d.err == nil {
		e.CostUSD = math.Float64frombits(binary.LittleEndian.Uint64(bits))
	}
	sec := d.varint()
	nsec := d.uvarint()
	if d.err != nil {
		return Entry{}, d.err
	}
	if len(d.b) != 0 || nsec >= 1e9 {
		return Entry{}, errCorrupt
	}
	e.Created = time.Unix(sec, int64(nsec))
	return e, nil
}

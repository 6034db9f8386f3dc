// Package privacy decides what the gateway keeps of prompts and answers:
// nothing (off), a keyed hash of each so repeats can be found without the
// text (hash, the default), or for a sampled fraction of the requests of
// keys whose owners consented, the raw text (sample), purged after a
// retention period. Text never goes to logs or traces in any mode.
package privacy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"math/rand/v2"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Modes.
const (
	Off    = "off"
	Hash   = "hash"
	Sample = "sample"
)

// Modes lists the valid modes.
var Modes = []string{Off, Hash, Sample}

// Policy is the privacy of one request.
type Policy struct {
	Mode   string // off, hash or sample
	Raw    bool   // keep the raw text (sample mode, consenting key, drawn)
	HashOn bool   // compute hashes (hash and sample modes)
}

// Decide resolves a request's policy: the key's mode when it has one, else
// the global one; raw text only in sample mode, for a consenting key, for
// a rate fraction of its requests.
func Decide(global, keyMode string, consent bool, rate float64) Policy {
	mode := global
	if keyMode != "" {
		mode = keyMode
	}
	p := Policy{Mode: mode, HashOn: mode == Hash || mode == Sample}
	if mode == Sample && consent && rate > 0 && rand.Float64() < rate {
		p.Raw = true
	}
	return p
}

// Sum is the keyed hash of text: hex HMAC-SHA256. Keyed so that a leaked
// request log cannot be searched for a guessed prompt without the key.
func Sum(key, text []byte) string {
	return sum(hmac.New(sha256.New, key), text)
}

func sum(m hash.Hash, text []byte) string {
	m.Write(text)
	var out [sha256.Size]byte
	return hex.EncodeToString(m.Sum(out[:0]))
}

// Hasher is Sum for one key, reusing its HMAC states: setting up an HMAC
// costs more than hashing a prompt.
type Hasher struct {
	pool sync.Pool
}

// NewHasher returns a Hasher for key.
func NewHasher(key []byte) *Hasher {
	key = bytes.Clone(key)
	return &Hasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// Sum is Sum(key, text).
func (h *Hasher) Sum(text []byte) string {
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	out := sum(m, text)
	h.pool.Put(m)
	return out
}

// isTextKey reports whether members named name hold the conversation's text
// in the OpenAI and Anthropic dialects, requests and answers alike:
// message and part content, text parts, system prompts, embeddings input,
// legacy prompts, tool-call arguments, and streamed deltas of all of them.
func isTextKey(name []byte) bool {
	switch string(name) {
	case "content", "text", "system", "input", "prompt",
		"arguments", "partial_json", "thinking", "refusal":
		return true
	}
	return false
}

// Text is the conversation text of a JSON body (a request or a non-streamed
// answer) or of an SSE stream of JSON events, one value per line, so that
// the same conversation gives the same text whatever the other fields say.
func Text(b []byte) []byte {
	var s sink
	collect(b, &s)
	return s.out
}

// SumText is Sum(key, Text(b)) with the text built in a reused buffer, so a
// prompt costs no allocation of its size.
func (h *Hasher) SumText(b []byte) string {
	// The text gathers in a pooled buffer and goes to the HMAC in one write:
	// many small writes cost more than the copy.
	tb := textBufs.Get().(*[]byte)
	s := sink{out: (*tb)[:0]}
	collect(b, &s)
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write(s.out)
	var out [sha256.Size]byte
	sum := hex.EncodeToString(m.Sum(out[:0]))
	h.pool.Put(m)
	if cap(s.out) <= 64<<10 {
		*tb = s.out
		textBufs.Put(tb)
	}
	return sum
}

var textBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// sink receives the text values, one per line.
type sink struct {
	out []byte
}

// add appends the valid JSON string raw, unquoted, and a newline. verbatim
// says raw has no escapes: then its unquoted form is its bytes between the
// quotes, which is what AppendUnquote would give, without its second scan.
func (s *sink) add(raw []byte, verbatim bool) {
	if verbatim {
		s.out = append(s.out, raw[1:len(raw)-1]...)
	} else {
		// raw was checked as jsontext checks strings: this cannot fail.
		s.out, _ = jsontext.AppendUnquote(s.out, raw)
	}
	s.out = append(s.out, '\n')
}

// collect feeds the text of a JSON body, or of the data lines of an SSE
// stream, to s.
func collect(b []byte, s *sink) {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		walkValue(t, s)
		return
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if data, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = bytes.TrimSpace(data)
			if len(data) > 0 && data[0] == '{' {
				walkValue(data, s)
			}
		}
	}
}

package emulator

import (
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// This file holds the small generators the dialects share: reply pieces,
// token estimates, ids and JSON string escaping for the hand-written
// templates (the templates, not an encoder, fix field order and spacing).

// pieces splits text the way the recorded OpenAI streams do: a word with its
// leading spaces is one piece, every other character (punctuation, newline)
// is a piece of its own. "The capital of Mexico is Mexico City." gives
// "The", " capital", " of", " Mexico", " is", " Mexico", " City", "." — the
// eight content deltas of fixtures/openai/chat-stream-usage.sse. The number
// of pieces is the emulator's completion token count.
func pieces(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j == len(s) { // trailing spaces
			out = append(out, s[i:])
			break
		}
		r, size := utf8.DecodeRuneInString(s[j:])
		j += size
		if isWordRune(r) {
			for j < len(s) {
				r, size = utf8.DecodeRuneInString(s[j:])
				if !isWordRune(r) {
					break
				}
				j += size
			}
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '\''
}

// estimateTokens is the emulator's deterministic token count for prompt
// text: characters / 4, at least 1.
func estimateTokens(chars int) int {
	return max(1, chars/4)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n random letters and digits, the alphabet of OpenAI's
// chatcmpl-/call_ ids and obfuscation padding.
func randomAlnum(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[rand.IntN(len(alnum))]
	}
	return string(b)
}

// randomHex returns n random bytes as lower-case hex.
func randomHex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return hex.EncodeToString(b)
}

// randomUUID returns a random version 4 UUID, the form of Azure's
// apim-request-id.
func randomUUID() string {
	var u [16]byte
	for i := range u {
		u[i] = byte(rand.Uint32())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// fingerprint is a stable system_fingerprint per model, like a real
// deployment's.
func fingerprint(model string) string {
	h := fnv.New64a()
	h.Write([]byte(model))
	return "fp_" + strconv.FormatUint(h.Sum64()|1<<63, 16)[:10]
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. With ascii set, every non-ASCII
// character is written as \uXXXX (lower-case hex, surrogate pairs above the
// BMP), as OpenAI's non-stream bodies do (Python's ensure_ascii); otherwise
// UTF-8 is written raw, as in SSE payloads. Unlike encoding/json, <, > and &
// are not escaped. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string, ascii bool) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if !ascii {
			b = utf8.AppendRune(b, r) // RuneError for invalid bytes
			continue
		}
		if r > 0xffff {
			r -= 0x10000
			b = appendU4(b, 0xd800+(r>>10))
			b = appendU4(b, 0xdc00+(r&0x3ff))
			continue
		}
		b = appendU4(b, r)
	}
	return append(b, '"')
}

func appendU4(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// jsonString is appendString as a string.
func jsonString(s string, ascii bool) string {
	return string(appendString(nil, s, ascii))
}

// jsonOrNull is jsonString, or null for "".
func jsonOrNull(s string, ascii bool) string {
	if s == "" {
		return "null"
	}
	return jsonString(s, ascii)
}

package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// SecretPrefix starts every virtual key, so that leaked keys are easy to spot
// by secret scanners and people can tell a gateway key from a provider key.
const SecretPrefix = "sk-sb-"

const (
	// secretChars random base62 characters carry 40*log2(62) ≈ 238 bits.
	secretChars = 40
	// displayPrefixLen is how much of a key listings may show: the fixed
	// prefix plus 6 random characters, enough to recognise a key and far too
	// little to help guess it.
	displayPrefixLen = 12
	base62           = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// NewSecret makes a virtual key: SecretPrefix + 40 base62 characters from
// crypto/rand (>= 238 bits). prefix is the first 12 characters (shown in
// listings so people recognise a key); hash is HashSecret(secret), the only
// form that should be stored.
func NewSecret() (secret, prefix, hash string, err error) {
	out := make([]byte, 0, len(SecretPrefix)+secretChars)
	out = append(out, SecretPrefix...)
	buf := make([]byte, 64)
	for len(out) < cap(out) {
		if _, err := rand.Read(buf); err != nil {
			return "", "", "", fmt.Errorf("auth: reading random bytes for a new secret: %w", err)
		}
		for _, b := range buf {
			// Rejection sampling: 248 = 4*62, so bytes >= 248 would make the
			// first 8 characters more likely than the rest.
			if b >= 248 {
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == cap(out) {
				break
			}
		}
	}
	secret = string(out)
	return secret, secret[:displayPrefixLen], HashSecret(secret), nil
}

// HashSecret returns the lowercase hex SHA-256 of secret. A fast hash is
// enough here (unlike passwords) because secrets have ~238 bits of entropy.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// EqualHash compares two hashes in constant time, so response timing does not
// reveal how much of a stored hash a guess matched.
func EqualHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

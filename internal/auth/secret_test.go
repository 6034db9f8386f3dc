package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewSecret(t *testing.T) {
	seen := make(map[string]bool)
	counts := make(map[rune]int)
	for range 1000 {
		secret, prefix, hash, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+40 {
			t.Fatalf("secret %q: want %q + 40 chars", secret, SecretPrefix)
		}
		body := secret[len(SecretPrefix):]
		for _, c := range body {
			if !strings.ContainsRune(base62, c) {
				t.Fatalf("secret %q has non-base62 %q", secret, c)
			}
			counts[c]++
		}
		if prefix != secret[:12] {
			t.Errorf("prefix = %q, want %q", prefix, secret[:12])
		}
		if hash != HashSecret(secret) {
			t.Errorf("hash = %q, want HashSecret(secret)", hash)
		}
		if seen[secret] {
			t.Fatalf("duplicate secret %q", secret)
		}
		seen[secret] = true
	}
	// 40000 characters over 62 symbols: each should appear ~645 times. A
	// symbol missing or twice as common means a broken alphabet or bias.
	if len(counts) != 62 {
		t.Errorf("saw %d distinct characters, want 62", len(counts))
	}
	for c, n := range counts {
		if n < 450 || n > 850 {
			t.Errorf("character %q appeared %d times, want ~645", c, n)
		}
	}
}

func TestHashSecret(t *testing.T) {
	sum := sha256.Sum256([]byte("sk-sb-test"))
	if got, want := HashSecret("sk-sb-test"), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("HashSecret = %q, want %q", got, want)
	}
	if got := HashSecret(""); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("HashSecret(\"\") = %q", got)
	}
}

func TestEqualHash(t *testing.T) {
	a := HashSecret("a")
	tests := []struct {
		x, y string
		want bool
	}{
		{a, a, true},
		{a, HashSecret("b"), false},
		{a, a[:10], false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := EqualHash(tt.x, tt.y); got != tt.want {
			t.Errorf("EqualHash(%q, %q) = %v, want %v", tt.x, tt.y, got, tt.want)
		}
	}
}

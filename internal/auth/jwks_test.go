package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestJWKSKeyRotation(t *testing.T) {
	srv := newJWKSServer(t, jwkFor(t, "old", key("rsa").Public()))
	v, clk := newTestVerifier(t, srv, JWTConfig{})
	ctx := context.Background()

	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, key("rsa"), "old", baseClaims(clk))); err != nil {
		t.Fatalf("old key: %v", err)
	}
	// The provider rotates to a new key; the cache is still fresh, so only
	// the unknown kid can make the verifier look again.
	srv.setKeys(t, jwkFor(t, "old", key("rsa").Public()), jwkFor(t, "new", key("ec256").Public()))
	clk.Advance(time.Second)
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodES256, key("ec256"), "new", baseClaims(clk))); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2 (initial + one for the new kid)", n)
	}
	// Known kids do not refetch.
	for range 5 {
		if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, key("rsa"), "old", baseClaims(clk))); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d after known kids, want 2", n)
	}
}

func TestJWKSUnknownKidFlood(t *testing.T) {
	srv := newJWKSServer(t, jwkFor(t, "k1", key("ed").Public()))
	v, clk := newTestVerifier(t, srv, JWTConfig{})
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, key("ed"), "k1", baseClaims(clk))); err != nil {
		t.Fatal(err)
	}

	flood := func() {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				tok := mint(t, jwt.SigningMethodEdDSA, key("ed"), fmt.Sprintf("junk-%d", i), baseClaims(clk))
				_, err := v.Verify(ctx, tok)
				if !errors.Is(err, ErrUnknownKey) {
					t.Errorf("junk kid: err = %v, want ErrUnknownKey", err)
				}
			})
		}
		wg.Wait()
	}
	flood()
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches after flood = %d, want 2 (initial + one refetch)", n)
	}
	clk.Advance(10 * time.Second)
	flood()
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches after second flood within 30s = %d, want 2", n)
	}
	clk.Advance(unknownKidInterval)
	flood()
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("fetches after 30s = %d, want 3", n)
	}
}

func TestJWKSRefreshWhenStale(t *testing.T) {
	srv := newJWKSServer(t, jwkFor(t, "k1", key("ec256").Public()))
	v, clk := newTestVerifier(t, srv, JWTConfig{Refresh: time.Minute})
	ctx := context.Background()
	verify := func() error {
		_, err := v.Verify(ctx, mint(t, jwt.SigningMethodES256, key("ec256"), "k1", baseClaims(clk)))
		return err
	}
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Second)
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches before Refresh = %d, want 1", n)
	}
	clk.Advance(time.Second)
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches after Refresh = %d, want 2", n)
	}
}

func TestJWKSDownKeepsOldKeys(t *testing.T) {
	srv := newJWKSServer(t, jwkFor(t, "k1", key("rsa").Public()))
	v, clk := newTestVerifier(t, srv, JWTConfig{Refresh: time.Minute})
	ctx := context.Background()
	verify := func(kid string) error {
		_, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, key("rsa"), kid, baseClaims(clk)))
		return err
	}
	if err := verify("k1"); err != nil {
		t.Fatal(err)
	}
	srv.setStatus(http.StatusServiceUnavailable)
	clk.Advance(2 * time.Minute)
	if err := verify("k1"); err != nil {
		t.Fatalf("stale keys with JWKS down: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2 (one failed refresh)", n)
	}
	// While down, requests do not retry on every call.
	for range 10 {
		if err := verify("k1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches during backoff = %d, want 2", n)
	}
	// An unknown kid still reports the kid, not the outage, since keys exist.
	clk.Advance(failedFetchBackoff)
	if err := verify("other"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown kid while down: err = %v", err)
	}
	// Recovery: the next refresh picks up keys again.
	srv.setStatus(http.StatusOK)
	clk.Advance(failedFetchBackoff)
	if err := verify("k1"); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	srv := newJWKSServer(t)
	srv.setStatus(http.StatusInternalServerError)
	v, clk := newTestVerifier(t, srv, JWTConfig{})
	tok := mint(t, jwt.SigningMethodRS256, key("rsa"), "k1", baseClaims(clk))
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrKeysUnavailable and not ErrInvalidToken", err)
	}
	if !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("err = %q should name the HTTP status", err)
	}
	// Backoff: an immediate retry does not hit the server.
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("retry err = %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}

func TestJWKSConcurrentVerifySharesFetch(t *testing.T) {
	srv := newJWKSServer(t, jwkFor(t, "k1", key("ed").Public()))
	srv.setDelay(50 * time.Millisecond)
	v, clk := newTestVerifier(t, srv, JWTConfig{})
	tok := mint(t, jwt.SigningMethodEdDSA, key("ed"), "k1", baseClaims(clk))
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}

func TestJWKSWaitHonoursContext(t *testing.T) {
	srv := newJWKSServer(t, jwkFor(t, "k1", key("ed").Public()))
	srv.setDelay(200 * time.Millisecond)
	v, clk := newTestVerifier(t, srv, JWTConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, key("ed"), "k1", baseClaims(clk)))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The shared fetch was not cancelled with the caller: it completes and
	// the next caller is served from it.
	time.Sleep(300 * time.Millisecond)
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodEdDSA, key("ed"), "k1", baseClaims(clk))); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}

func TestJWKSSingleKeyWithoutKid(t *testing.T) {
	srv := newJWKSServer(t, jwkFor(t, "only", key("ec384").Public()))
	v, clk := newTestVerifier(t, srv, JWTConfig{})
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodES384, key("ec384"), "", baseClaims(clk))); err != nil {
		t.Fatal(err)
	}
}

func TestParseJWKS(t *testing.T) {
	rsaJWK := jwkFor(t, "r", key("rsa").Public())
	ecJWK := jwkFor(t, "e", key("ec256").Public())
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name     string
		keys     []map[string]any
		wantKids []string
		wantAlgs [][]string
		wantErr  string
	}{
		{"all types", []map[string]any{rsaJWK, ecJWK, jwkFor(t, "e3", key("ec384").Public()), jwkFor(t, "d", key("ed").Public())},
			[]string{"r", "e", "e3", "d"}, [][]string{rsaAlgs, {"ES256"}, {"ES384"}, edAlgs}, ""},
		{"skips enc keys", []map[string]any{with(rsaJWK, "use", "enc"), ecJWK}, []string{"e"}, nil, ""},
		{"skips unknown kty", []map[string]any{{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "OKP", "crv": "X25519", "x": "AA"}, ecJWK}, []string{"e"}, nil, ""},
		{"declared alg narrows", []map[string]any{with(rsaJWK, "alg", "PS256")}, []string{"r"}, [][]string{{"PS256"}}, ""},
		{"declared alg mismatch skipped", []map[string]any{with(rsaJWK, "alg", "HS256"), ecJWK}, []string{"e"}, nil, ""},
		{"point off curve skipped", []map[string]any{with(ecJWK, "y", ecJWK["x"]), rsaJWK}, []string{"r"}, nil, ""},
		{"nothing usable", []map[string]any{with(ecJWK, "crv", "P-192")}, nil, nil, `no usable signing keys among 1: key 0 (kid "e"): unsupported EC curve "P-192"`},
		{"empty", nil, nil, nil, "no usable signing keys among 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"keys":[]}`)
			if tt.keys != nil {
				body = mustJSON(t, map[string]any{"keys": tt.keys})
			}
			keys, err := parseJWKS(body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for i, k := range keys {
				kids = append(kids, k.kid)
				if tt.wantAlgs != nil && strings.Join(k.algs, ",") != strings.Join(tt.wantAlgs[i], ",") {
					t.Errorf("key %s algs = %v, want %v", k.kid, k.algs, tt.wantAlgs[i])
				}
			}
			if strings.Join(kids, ",") != strings.Join(tt.wantKids, ",") {
				t.Errorf("kids = %v, want %v", kids, tt.wantKids)
			}
		})
	}
	if _, err := parseJWKS([]byte("not json")); err == nil {
		t.Error("parseJWKS(garbage) succeeded")
	}
}

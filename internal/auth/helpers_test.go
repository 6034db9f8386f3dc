package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testKeys are generated once: RSA generation is slow under -race.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	must := func(k crypto.Signer, err error) crypto.Signer {
		if err != nil {
			panic(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{
		"rsa":   must(rsa.GenerateKey(rand.Reader, 2048)),
		"rsa2":  must(rsa.GenerateKey(rand.Reader, 2048)),
		"ec256": must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"ec384": must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
		"ed":    ed,
	}
})

func key(name string) crypto.Signer { return testKeys()[name] }

// fakeClock is a settable time source shared by the Verifier and tokens.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkFor renders a public key as a JWK map.
func jwkFor(t testing.TB, kid string, pub crypto.PublicKey) map[string]any {
	t.Helper()
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": b64u(raw[1 : 1+size]), "y": b64u(raw[1+size:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64u(k)}
	}
	t.Fatalf("unsupported key %T", pub)
	return nil
}

// jwksServer serves a replaceable JWKS and counts fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	body    []byte
	status  int
	delay   time.Duration
}

func newJWKSServer(t testing.TB, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, delay := s.body, s.status, s.delay
		s.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(func() {
		s.Client().CloseIdleConnections()
		s.Close()
	})
	return s
}

func (s *jwksServer) setKeys(t testing.TB, keys ...map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) setDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

func (s *jwksServer) setStatus(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// standardJWKS holds one key of each type, by the names of testKeys.
func standardJWKS(t testing.TB) *jwksServer {
	var keys []map[string]any
	for _, name := range []string{"rsa", "ec256", "ec384", "ed"} {
		keys = append(keys, jwkFor(t, name, key(name).Public()))
	}
	return newJWKSServer(t, keys...)
}

// newTestVerifier makes a JWKS verifier on a fake clock.
func newTestVerifier(t testing.TB, srv *jwksServer, cfg JWTConfig) (*Verifier, *fakeClock) {
	t.Helper()
	cfg.JWKSURL = srv.URL
	v, err := NewVerifier(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	v.now = clk.Now
	return v, clk
}

// baseClaims are valid claims at clk's current time.
func baseClaims(clk *fakeClock) jwt.MapClaims {
	now := clk.Now()
	return jwt.MapClaims{
		"sub":  "user-1",
		"team": "team-a",
		"iss":  "https://idp.example",
		"aud":  "switchboard",
		"iat":  now.Unix(),
		"exp":  now.Add(time.Hour).Unix(),
	}
}

// mint signs claims with the named key and algorithm, setting kid unless "".
func mint(t testing.TB, method jwt.SigningMethod, signKey any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(signKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pemPublic(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

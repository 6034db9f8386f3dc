package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestVerifyKeyTypes(t *testing.T) {
	srv := standardJWKS(t)
	v, clk := newTestVerifier(t, srv, JWTConfig{
		Issuer: "https://idp.example", Audience: "switchboard", ModelsClaim: "models",
	})
	tests := []struct {
		name   string
		method jwt.SigningMethod
		key    string
		models any
		want   []string
	}{
		{"RS256", jwt.SigningMethodRS256, "rsa", []any{"gpt-4o", "claude"}, []string{"gpt-4o", "claude"}},
		{"RS512", jwt.SigningMethodRS512, "rsa", "gpt-4o  claude", []string{"gpt-4o", "claude"}},
		{"PS256", jwt.SigningMethodPS256, "rsa", []any{}, []string{}},
		{"ES256", jwt.SigningMethodES256, "ec256", "a b", []string{"a", "b"}},
		{"ES384", jwt.SigningMethodES384, "ec384", []any{"x"}, []string{"x"}},
		{"EdDSA", jwt.SigningMethodEdDSA, "ed", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseClaims(clk)
			if tt.models != nil {
				c["models"] = tt.models
			}
			got, err := v.Verify(context.Background(), mint(t, tt.method, key(tt.key), tt.key, c))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Claims{
				Subject: "user-1", Team: "team-a", User: "user-1", Models: tt.want,
				ExpiresAt: clk.Now().Add(time.Hour),
			}
			if diff := cmp.Diff(want, got, cmpIgnoreRaw); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			if got.Raw["iss"] != "https://idp.example" {
				t.Errorf("Raw[iss] = %v", got.Raw["iss"])
			}
		})
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

var cmpIgnoreRaw = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Raw" }, cmp.Ignore())

func TestVerifyCustomClaimNames(t *testing.T) {
	srv := standardJWKS(t)
	v, clk := newTestVerifier(t, srv, JWTConfig{TeamClaim: "org", UserClaim: "email", ModelsClaim: "scope"})
	c := baseClaims(clk)
	c["org"] = float64(42)
	c["email"] = "ann@example.com"
	c["scope"] = "m1 m2"
	got, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodES256, key("ec256"), "ec256", c))
	if err != nil {
		t.Fatal(err)
	}
	if got.Team != "42" || got.User != "ann@example.com" || got.Subject != "user-1" || !cmp.Equal(got.Models, []string{"m1", "m2"}) {
		t.Errorf("got %+v", got)
	}

	c["scope"] = map[string]any{"no": "pe"}
	_, err = v.Verify(context.Background(), mint(t, jwt.SigningMethodES256, key("ec256"), "ec256", c))
	if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), `"scope" must be an array of strings`) {
		t.Errorf("bad models claim: err = %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	srv := standardJWKS(t)
	v, clk := newTestVerifier(t, srv, JWTConfig{Issuer: "https://idp.example", Audience: "switchboard"})
	rsaKey := key("rsa")
	rsaPEM := pemPublic(t, rsaKey.Public())
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := baseClaims(clk)
		mod(c)
		return c
	}
	now := clk.Now()
	tests := []struct {
		name    string
		token   string
		wantMsg string
		wantIs  error
	}{
		{
			name:    "signed by another key",
			token:   mint(t, jwt.SigningMethodRS256, key("rsa2"), "rsa", baseClaims(clk)),
			wantMsg: "token signature is invalid", wantIs: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "wrong audience",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { c["aud"] = []string{"other", "x"} })),
			wantMsg: `token audience does not include "switchboard"`, wantIs: jwt.ErrTokenInvalidAudience,
		},
		{
			name:    "missing audience",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { delete(c, "aud") })),
			wantMsg: `token has no aud claim, expected "switchboard"`, wantIs: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name:    "expired beyond leeway",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
			wantMsg: "token expired at " + now.Add(-time.Minute).UTC().Format(time.RFC3339), wantIs: jwt.ErrTokenExpired,
		},
		{
			name:    "not yet valid",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })),
			wantMsg: "token is not valid until", wantIs: jwt.ErrTokenNotValidYet,
		},
		{
			name:    "issued in the future",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })),
			wantMsg: "token is issued in the future", wantIs: jwt.ErrTokenUsedBeforeIssued,
		},
		{
			name:    "missing exp",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { delete(c, "exp") })),
			wantMsg: "token has no exp claim", wantIs: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name:    "wrong issuer",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
			wantMsg: `token issuer is "https://evil.example", expected "https://idp.example"`, wantIs: jwt.ErrTokenInvalidIssuer,
		},
		{
			name:    "missing issuer",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", with(func(c jwt.MapClaims) { delete(c, "iss") })),
			wantMsg: `token has no iss claim, expected "https://idp.example"`, wantIs: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name:    "alg none",
			token:   mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa", baseClaims(clk)),
			wantMsg: `token alg "none" is not allowed`, wantIs: jwt.ErrTokenSignatureInvalid,
		},
		{
			// The classic confusion attack: HMAC keyed with the public key.
			name:    "HS256 signed with the RSA public key",
			token:   mint(t, jwt.SigningMethodHS256, []byte(rsaPEM), "rsa", baseClaims(clk)),
			wantMsg: `token alg "HS256" is not allowed for this key`, wantIs: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "ES384 header on a P-256 key",
			token:   mint(t, jwt.SigningMethodES384, key("ec384"), "ec256", baseClaims(clk)),
			wantMsg: `token alg "ES384" is not allowed for this key (allowed: ES256)`, wantIs: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "RS256 header on an Ed25519 key",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "ed", baseClaims(clk)),
			wantMsg: `token alg "RS256" is not allowed for this key (allowed: EdDSA)`, wantIs: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "unknown kid",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "nope", baseClaims(clk)),
			wantMsg: `unknown signing key id "nope"`, wantIs: ErrUnknownKey,
		},
		{
			name:    "no kid with several keys",
			token:   mint(t, jwt.SigningMethodRS256, rsaKey, "", baseClaims(clk)),
			wantMsg: "token has no kid header and the JWKS has 4 keys", wantIs: ErrUnknownKey,
		},
		{name: "empty", token: "", wantMsg: "token is empty", wantIs: jwt.ErrTokenMalformed},
		{name: "two parts", token: "eyJhbGciOiJSUzI1NiJ9.e30", wantMsg: "want 3 dot-separated parts", wantIs: jwt.ErrTokenMalformed},
		{name: "header not base64", token: "eyJ!.e30.x", wantMsg: "header is not base64url", wantIs: jwt.ErrTokenMalformed},
		{
			name:    "payload garbage",
			token:   "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYSJ9.!!!.abc",
			wantMsg: "token is malformed", wantIs: jwt.ErrTokenMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatal("Verify succeeded, want error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %q is not ErrInvalidToken", err)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	srv := standardJWKS(t)
	v, clk := newTestVerifier(t, srv, JWTConfig{Leeway: 20 * time.Second})
	now := clk.Now()
	ok := baseClaims(clk)
	ok["exp"] = now.Add(-10 * time.Second).Unix()
	ok["nbf"] = now.Add(10 * time.Second).Unix()
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodEdDSA, key("ed"), "ed", ok)); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	late := baseClaims(clk)
	late["exp"] = now.Add(-21 * time.Second).Unix()
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodEdDSA, key("ed"), "ed", late)); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("beyond leeway: err = %v, want expired", err)
	}
}

func TestStaticKeys(t *testing.T) {
	secret := strings.Repeat("s3cret!", 6)
	tests := []struct {
		name   string
		cfgKey string
		method jwt.SigningMethod
		sign   any
	}{
		{"RSA PEM", pemPublic(t, key("rsa").Public()), jwt.SigningMethodRS256, key("rsa")},
		{"RSA PEM PS384", pemPublic(t, key("rsa").Public()), jwt.SigningMethodPS384, key("rsa")},
		{"EC PEM", pemPublic(t, key("ec384").Public()), jwt.SigningMethodES384, key("ec384")},
		{"Ed25519 PEM", pemPublic(t, key("ed").Public()), jwt.SigningMethodEdDSA, key("ed")},
		{"HS256", secret, jwt.SigningMethodHS256, []byte(secret)},
		{"HS384", secret, jwt.SigningMethodHS384, []byte(secret)},
		{"HS512", secret, jwt.SigningMethodHS512, []byte(secret)},
	}
	clk := newClock()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(JWTConfig{Key: tt.cfgKey}, nil)
			if err != nil {
				t.Fatal(err)
			}
			v.now = clk.Now
			// A static key ignores kid: there is only one key.
			got, err := v.Verify(context.Background(), mint(t, tt.method, tt.sign, "whatever", baseClaims(clk)))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Team != "team-a" || got.User != "user-1" {
				t.Errorf("claims = %+v", got)
			}
			// Same claims signed by a different key must fail.
			var other any = []byte(secret + "x")
			if _, isHMAC := tt.sign.([]byte); !isHMAC {
				other = map[jwt.SigningMethod]any{
					jwt.SigningMethodRS256: key("rsa2"), jwt.SigningMethodPS384: key("rsa2"),
					jwt.SigningMethodES384: freshKey(t, "ES384"), jwt.SigningMethodEdDSA: freshKey(t, "EdDSA"),
				}[tt.method]
			}
			_, err = v.Verify(context.Background(), mint(t, tt.method, other, "", baseClaims(clk)))
			if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				t.Errorf("other key: err = %v, want signature invalid", err)
			}
		})
	}

	t.Run("HMAC token against PEM key", func(t *testing.T) {
		pemKey := pemPublic(t, key("rsa").Public())
		v, err := NewVerifier(JWTConfig{Key: pemKey}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v.now = clk.Now
		_, err = v.Verify(context.Background(), mint(t, jwt.SigningMethodHS256, []byte(pemKey), "", baseClaims(clk)))
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) || !strings.Contains(err.Error(), `"HS256" is not allowed`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("RSA token against HMAC secret", func(t *testing.T) {
		v, err := NewVerifier(JWTConfig{Key: secret}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v.now = clk.Now
		_, err = v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, key("rsa"), "", baseClaims(clk)))
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Errorf("err = %v", err)
		}
	})
}

// freshKey generates a key of the same type as the named test key, for
// "signed by someone else" cases.
func freshKey(t *testing.T, alg string) any {
	t.Helper()
	var (
		k   any
		err error
	)
	switch alg {
	case "ES384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no fresh key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewVerifierErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  JWTConfig
		want string
	}{
		{"neither", JWTConfig{}, "needs a JWKS URL or a static key"},
		{"both", JWTConfig{JWKSURL: "http://x", Key: strings.Repeat("k", 40)}, "set only one"},
		{"bad PEM", JWTConfig{Key: "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n"}, "could not be decoded"},
		{"PEM garbage DER", JWTConfig{Key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "parsing PEM PUBLIC KEY"},
		{"private key PEM", JWTConfig{Key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "not a public key"},
		{"short HMAC", JWTConfig{Key: "short"}, "HMAC secret is 5 bytes"},
		{"negative leeway", JWTConfig{Key: strings.Repeat("k", 40), Leeway: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", true},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", true},
		{"sk-sb-abcdefghijklmnopqrstuvwxyz0123456789ABCD", false},
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0", false},
		{"abc.def.ghi", false},
		{"eyJ.a.b.c", false},
		{"eyJhbGci+9.eyJ.sig", false},
		{"eyJhbGci.eyJ=.sig", false},
		{"eyJhbGci..sig", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := LooksLikeJWT(tt.in); got != tt.want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

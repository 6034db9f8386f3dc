package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTConfig configures a Verifier. Exactly one of JWKSURL and Key is set.
type JWTConfig struct {
	JWKSURL     string        // keys fetched from here (RSA, EC P-256/384/521, Ed25519 JWKs), or
	Key         string        // a static key: a PEM public key (RSA/EC/Ed25519) or, if not PEM, an HMAC secret (HS256/384/512)
	Issuer      string        // required iss when set
	Audience    string        // required aud when set
	TeamClaim   string        // default "team"
	UserClaim   string        // default "sub"
	ModelsClaim string        // optional: a claim holding allowed models (array of strings or space-separated string)
	Leeway      time.Duration // clock skew allowed, default 30s
	Refresh     time.Duration // JWKS refresh interval, default 10m
}

// Claims is what a verified token says about its holder.
type Claims struct {
	Subject   string
	Team      string
	User      string
	Models    []string // nil when ModelsClaim is unset or absent from the token
	ExpiresAt time.Time
	Raw       map[string]any
}

// Verifier checks JWT bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    JWTConfig
	static *verifyKey
	jwks   *jwksCache
	now    func() time.Time // replaced in tests
}

const (
	defaultTeamClaim = "team"
	defaultUserClaim = "sub"
	defaultLeeway    = 30 * time.Second
	defaultRefresh   = 10 * time.Minute
)

// NewVerifier checks cfg and prepares a Verifier. It does no I/O: JWKS keys
// are fetched on first use, so a briefly unreachable identity provider does
// not stop the gateway from starting. client may be nil.
func NewVerifier(cfg JWTConfig, client *http.Client) (*Verifier, error) {
	switch {
	case cfg.JWKSURL == "" && cfg.Key == "":
		return nil, errors.New("auth: JWT config needs a JWKS URL or a static key")
	case cfg.JWKSURL != "" && cfg.Key != "":
		return nil, errors.New("auth: JWT config has both a JWKS URL and a static key; set only one")
	}
	if cfg.TeamClaim == "" {
		cfg.TeamClaim = defaultTeamClaim
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = defaultUserClaim
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = defaultLeeway
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("auth: JWT leeway %s is negative", cfg.Leeway)
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = defaultRefresh
	}
	v := &Verifier{cfg: cfg, now: time.Now}
	if cfg.Key != "" {
		k, err := parseStaticKey(cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("auth: JWT static key: %w", err)
		}
		v.static = k
		return v, nil
	}
	if client == nil {
		client = &http.Client{Timeout: jwksTimeout}
	}
	v.jwks = &jwksCache{
		url:     cfg.JWKSURL,
		client:  client,
		refresh: cfg.Refresh,
		now:     func() time.Time { return v.now() },
	}
	return v, nil
}

// header is the part of the JOSE header we read before choosing a key.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Verify checks token's signature and claims and returns its claims. Errors
// that are the token's fault wrap ErrInvalidToken; ErrKeysUnavailable means
// the keys could not be fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if token == "" {
		return Claims{}, invalid(jwt.ErrTokenMalformed, "token is empty")
	}
	h, err := parseHeader(token)
	if err != nil {
		return Claims{}, err
	}
	if h.Alg == "" || strings.EqualFold(h.Alg, "none") {
		return Claims{}, invalid(jwt.ErrTokenSignatureInvalid, "token alg %q is not allowed: tokens must be signed", h.Alg)
	}
	key := v.static
	if key == nil {
		if key, err = v.jwks.key(ctx, h.Kid); err != nil {
			return Claims{}, err
		}
	}
	// The parser re-checks this, but doing it here gives a clearer message.
	if !slices.Contains(key.algs, h.Alg) {
		return Claims{}, invalid(jwt.ErrTokenSignatureInvalid, "token alg %q is not allowed for this key (allowed: %s)", h.Alg, strings.Join(key.algs, ", "))
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(key.algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.now),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	mc := jwt.MapClaims{}
	_, err = jwt.NewParser(opts...).ParseWithClaims(token, mc, func(*jwt.Token) (any, error) {
		return key.key, nil
	})
	if err != nil {
		return Claims{}, v.explain(err, mc)
	}
	return v.claims(mc)
}

// parseHeader decodes the JOSE header without trusting it: it only picks
// the key, and the key then decides which algorithms are acceptable.
func parseHeader(token string) (header, error) {
	first, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 {
		return header{}, invalid(jwt.ErrTokenMalformed, "token is malformed: want 3 dot-separated parts")
	}
	raw, err := base64.RawURLEncoding.DecodeString(first)
	if err != nil {
		return header{}, invalid(jwt.ErrTokenMalformed, "token is malformed: header is not base64url: %v", err)
	}
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return header{}, invalid(jwt.ErrTokenMalformed, "token is malformed: header is not a JSON object: %v", err)
	}
	return h, nil
}

// claims maps verified token claims to Claims using the configured names.
func (v *Verifier) claims(mc jwt.MapClaims) (Claims, error) {
	c := Claims{Raw: mc}
	c.Subject, _ = mc["sub"].(string)
	var err error
	if c.Team, err = stringClaim(mc, v.cfg.TeamClaim); err != nil {
		return Claims{}, err
	}
	if c.User, err = stringClaim(mc, v.cfg.UserClaim); err != nil {
		return Claims{}, err
	}
	if v.cfg.ModelsClaim != "" {
		if c.Models, err = modelsClaim(mc, v.cfg.ModelsClaim); err != nil {
			return Claims{}, err
		}
	}
	if exp, err := mc.GetExpirationTime(); err == nil && exp != nil {
		c.ExpiresAt = exp.Time
	}
	return c, nil
}

// stringClaim reads a claim that names someone. Numbers are accepted because
// some identity providers use numeric user or group ids.
func stringClaim(mc jwt.MapClaims, name string) (string, error) {
	switch x := mc[name].(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	default:
		return "", invalid(jwt.ErrInvalidType, "token claim %q must be a string, got %s", name, jsonType(x))
	}
}

// modelsClaim reads a list of models given as a JSON array of strings or as
// one space-separated string (the OAuth "scope" style).
func modelsClaim(mc jwt.MapClaims, name string) ([]string, error) {
	switch x := mc[name].(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(x), nil
	case []any:
		models := make([]string, 0, len(x))
		for i, m := range x {
			s, ok := m.(string)
			if !ok {
				return nil, invalid(jwt.ErrInvalidType, "token claim %q item %d must be a string, got %s", name, i, jsonType(m))
			}
			models = append(models, s)
		}
		return models, nil
	default:
		return nil, invalid(jwt.ErrInvalidType, "token claim %q must be an array of strings or a space-separated string, got %s", name, jsonType(x))
	}
}

func jsonType(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", x)
	}
}

// LooksLikeJWT reports whether s has the shape of a compact JWS: three
// dot-separated base64url segments, the first starting "eyJ" (base64 of
// `{"`). It lets a caller route a bearer credential to the JWT verifier
// rather than the virtual key store without trying both. The signature
// segment may be empty so that unsigned tokens reach Verify and get a clear
// refusal.
func LooksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "eyJ") || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

const (
	// jwksTimeout bounds one JWKS fetch, so a slow identity provider delays
	// requests by at most this much.
	jwksTimeout = 5 * time.Second
	// unknownKidInterval limits refetches caused by unknown kids: anyone can
	// mint a token with a random kid, and each must not cost the identity
	// provider a request.
	unknownKidInterval = 30 * time.Second
	// failedFetchBackoff stops a down JWKS endpoint from being hit by every
	// request while it is down.
	failedFetchBackoff = 5 * time.Second
	// maxJWKSBytes caps the response body; real key sets are a few KiB.
	maxJWKSBytes = 1 << 20
)

// jwksCache holds the keys of one JWKS endpoint. It refreshes lazily when
// Verify finds the keys stale or meets an unknown kid; there is no background
// goroutine to start or stop.
type jwksCache struct {
	url     string
	client  *http.Client
	refresh time.Duration
	now     func() time.Time

	mu         sync.Mutex
	byKid      map[string]*verifyKey
	all        []*verifyKey
	fetchedAt  time.Time // last successful fetch
	failedAt   time.Time // last failed fetch, zero after a success
	lastErr    error     // error of the last failed fetch
	lastMissAt time.Time // last refetch triggered by an unknown kid
	inflight   *fetchCall
	hasFetched bool
}

// fetchCall is one JWKS fetch shared by every Verify that needs it.
type fetchCall struct {
	done chan struct{}
}

// key returns the key for kid ("" when the token names none), fetching or
// refreshing the key set as needed.
func (c *jwksCache) key(ctx context.Context, kid string) (*verifyKey, error) {
	c.mu.Lock()
	fetched := false
	if c.stale() && c.mayRetry() {
		call := c.startFetch(ctx)
		c.mu.Unlock()
		if err := c.wait(ctx, call); err != nil {
			return nil, err
		}
		fetched = true
		c.mu.Lock()
	}
	if len(c.all) == 0 {
		err := c.lastErr
		c.mu.Unlock()
		if err == nil {
			err = errors.New("no keys fetched yet")
		}
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if k, err := c.lookup(kid); err == nil || kid == "" || fetched {
		c.mu.Unlock()
		return k, err
	}

	// Unknown kid: the provider may have rotated keys. Join a fetch already
	// under way for free; start a new one only if the rate limit allows.
	call := c.inflight
	if call == nil && c.now().Sub(c.lastMissAt) >= unknownKidInterval {
		c.lastMissAt = c.now()
		call = c.startFetch(ctx)
	}
	c.mu.Unlock()
	if call != nil {
		if err := c.wait(ctx, call); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookup(kid)
}

// stale reports whether the keys are due for a refresh. Caller holds mu.
func (c *jwksCache) stale() bool {
	return !c.hasFetched || c.now().Sub(c.fetchedAt) >= c.refresh
}

// mayRetry reports whether a fetch may start now given recent failures.
// Caller holds mu.
func (c *jwksCache) mayRetry() bool {
	return c.failedAt.IsZero() || c.now().Sub(c.failedAt) >= failedFetchBackoff
}

// lookup finds a key by kid. Caller holds mu.
func (c *jwksCache) lookup(kid string) (*verifyKey, error) {
	if kid == "" {
		// Without a kid we can only pick a key when there is no choice.
		if len(c.all) == 1 {
			return c.all[0], nil
		}
		return nil, invalid(ErrUnknownKey, "token has no kid header and the JWKS has %d keys; the issuer must set kid", len(c.all))
	}
	if k, ok := c.byKid[kid]; ok {
		return k, nil
	}
	return nil, invalid(ErrUnknownKey, "unknown signing key id %q", kid)
}

// startFetch begins a fetch, or returns the one in flight. Caller holds mu.
func (c *jwksCache) startFetch(ctx context.Context) *fetchCall {
	if c.inflight != nil {
		return c.inflight
	}
	call := &fetchCall{done: make(chan struct{})}
	c.inflight = call
	// The fetch serves every waiter, so one caller giving up must not cancel
	// it for the rest; keep ctx's values (tracing) but not its cancellation.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksTimeout)
	go func() {
		defer cancel()
		keys, err := fetchJWKS(fctx, c.client, c.url)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			// Keep serving the old keys: an identity provider outage should
			// not log everyone out while their tokens are still good.
			c.failedAt, c.lastErr = c.now(), err
		} else {
			c.byKid = make(map[string]*verifyKey, len(keys))
			for _, k := range keys {
				if _, dup := c.byKid[k.kid]; !dup && k.kid != "" {
					c.byKid[k.kid] = k
				}
			}
			c.all = keys
			c.fetchedAt, c.failedAt, c.lastErr = c.now(), time.Time{}, nil
			c.hasFetched = true
		}
		c.inflight = nil
		close(call.done)
	}()
	return call
}

// wait blocks until call finishes or ctx ends. It reports only ctx errors:
// fetch errors are recorded on the cache, and old keys may still serve.
func (c *jwksCache) wait(ctx context.Context, call *fetchCall) error {
	select {
	case <-call.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for JWKS fetch: %w", ctx.Err())
	}
}

// fetchJWKS downloads and parses a key set.
func fetchJWKS(ctx context.Context, client *http.Client, url string) ([]*verifyKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request for %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS from %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS from %s: HTTP %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading JWKS from %s: %w", url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS from %s is larger than %d bytes", url, maxJWKSBytes)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS from %s: %w", url, err)
	}
	return keys, nil
}

// jwk holds the JWK members we use (RFC 7517, 7518, 8037).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS parses a JWK set, skipping keys that are not for signatures or of
// a type we do not know: one exotic key must not break the others.
func parseJWKS(body []byte) ([]*verifyKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("parsing JSON: %w", err)
	}
	var keys []*verifyKey
	var skipped []error
	for i, raw := range set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		k, err := j.verifyKey()
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, j.Kid, err))
			continue
		}
		if k != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable signing keys among %d: %w", len(set.Keys), errors.Join(skipped...))
	}
	return keys, nil
}

// verifyKey converts a JWK to a key; it returns nil, nil for kinds we skip.
func (j *jwk) verifyKey() (*verifyKey, error) {
	var pub any
	var err error
	switch j.Kty {
	case "RSA":
		pub, err = j.rsa()
	case "EC":
		pub, err = j.ec()
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, nil // X25519 and friends are not signing keys.
		}
		var x []byte
		x, err = b64(j.X, "x")
		if err == nil && len(x) != ed25519.PublicKeySize {
			err = fmt.Errorf("Ed25519 x is %d bytes, want %d", len(x), ed25519.PublicKeySize)
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	k, err := newAsymmetricKey(j.Kid, pub)
	if err != nil {
		return nil, err
	}
	if err := k.restrictAlg(j.Alg); err != nil {
		return nil, err
	}
	return k, nil
}

func (j *jwk) rsa() (*rsa.PublicKey, error) {
	n, err := b64(j.N, "n")
	if err != nil {
		return nil, err
	}
	e, err := b64(j.E, "e")
	if err != nil {
		return nil, err
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("RSA exponent is %d bytes", len(e))
	}
	exp := new(big.Int).SetBytes(e).Int64()
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("RSA exponent %d is invalid", exp)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}, nil
}

func (j *jwk) ec() (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("unsupported EC curve %q", j.Crv)
	}
	x, err := b64(j.X, "x")
	if err != nil {
		return nil, err
	}
	y, err := b64(j.Y, "y")
	if err != nil {
		return nil, err
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("%s coordinates must be %d bytes, got x=%d y=%d", j.Crv, size, len(x), len(y))
	}
	point := append(append([]byte{4}, x...), y...)
	// ParseUncompressedPublicKey also checks the point is on the curve,
	// which guards against invalid-curve attacks.
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("%s point: %w", j.Crv, err)
	}
	return pub, nil
}

// b64 decodes a base64url JWK member, tolerating padding some issuers add.
func b64(s, name string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("missing %q", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(trimPadding(s))
	if err != nil {
		return nil, fmt.Errorf("decoding %q: %w", name, err)
	}
	return b, nil
}

func trimPadding(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

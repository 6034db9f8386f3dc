package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// verifyKey is a key a token may be checked against, together with the only
// algorithms that key may be used with. Pinning algorithms to the key (rather
// than trusting the token's alg header) is what stops "none" tokens and
// HMAC-with-a-public-key confusion attacks.
type verifyKey struct {
	kid  string
	key  any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HMAC)
	algs []string
}

var (
	rsaAlgs  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	hmacAlgs = []string{"HS256", "HS384", "HS512"}
	edAlgs   = []string{"EdDSA"}
)

// minHMACSecret is the shortest static HMAC secret accepted: RFC 7518 §3.2
// requires a key at least as long as the hash output for HS256.
const minHMACSecret = 32

// minRSABits rejects RSA keys too short to be trusted for signatures.
const minRSABits = 2048

// newAsymmetricKey wraps a parsed public key with its allowed algorithms.
func newAsymmetricKey(kid string, pub any) (*verifyKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key is %d bits, need at least %d", k.N.BitLen(), minRSABits)
		}
		return &verifyKey{kid: kid, key: k, algs: rsaAlgs}, nil
	case *ecdsa.PublicKey:
		alg, err := ecAlg(k.Curve)
		if err != nil {
			return nil, err
		}
		return &verifyKey{kid: kid, key: k, algs: []string{alg}}, nil
	case ed25519.PublicKey:
		return &verifyKey{kid: kid, key: k, algs: edAlgs}, nil
	default:
		return nil, fmt.Errorf("unsupported public key type %T (want RSA, EC or Ed25519)", pub)
	}
}

// ecAlg returns the one JWS algorithm defined for a curve (RFC 7518 §3.4).
func ecAlg(c elliptic.Curve) (string, error) {
	switch c {
	case elliptic.P256():
		return "ES256", nil
	case elliptic.P384():
		return "ES384", nil
	case elliptic.P521():
		return "ES512", nil
	default:
		return "", fmt.Errorf("unsupported EC curve %s", c.Params().Name)
	}
}

// restrictAlg narrows a key to the alg its JWK declares, if any. A declared
// alg that does not fit the key type makes the key unusable.
func (k *verifyKey) restrictAlg(alg string) error {
	if alg == "" {
		return nil
	}
	if !slices.Contains(k.algs, alg) {
		return fmt.Errorf("declared alg %q does not fit the key (allowed: %s)", alg, strings.Join(k.algs, ", "))
	}
	k.algs = []string{alg}
	return nil
}

// parseStaticKey reads JWTConfig.Key: a PEM public key (or certificate), or,
// when the value is not PEM at all, an HMAC secret.
func parseStaticKey(s string) (*verifyKey, error) {
	trimmed := strings.TrimSpace(s)
	if !strings.HasPrefix(trimmed, "-----BEGIN") {
		if len(s) < minHMACSecret {
			return nil, fmt.Errorf("HMAC secret is %d bytes, need at least %d (or give a PEM public key)", len(s), minHMACSecret)
		}
		return &verifyKey{key: []byte(s), algs: hmacAlgs}, nil
	}
	block, _ := pem.Decode([]byte(trimmed))
	if block == nil {
		return nil, errors.New("key looks like PEM but could not be decoded")
	}
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			pub = cert.PublicKey
		}
	default:
		// Refusing private keys here keeps them out of gateway config by
		// accident; the gateway only ever needs the public half.
		return nil, fmt.Errorf("PEM block %q is not a public key (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing PEM %s: %w", block.Type, err)
	}
	return newAsymmetricKey("", pub)
}

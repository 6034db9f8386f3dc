// Package auth authenticates gateway callers.
//
// It knows three kinds of credentials:
//
//   - virtual keys: opaque "sk-sb-..." secrets that the gateway issues and
//     stores only as SHA-256 hashes (secret.go);
//   - JWT bearer tokens signed by an identity provider, verified against a
//     JWKS endpoint or a static key (jwt.go, jwks.go);
//   - client certificates from mutual TLS, named by a chosen field (mtls.go).
//
// The package only verifies credentials and extracts who the caller is; it
// does not decide what the caller may do.
package auth

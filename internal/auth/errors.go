package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	// ErrInvalidToken is wrapped by every error that is the token's fault,
	// so callers can answer 401 for these and 5xx for everything else.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnknownKey means the token names a signing key the verifier does
	// not have. It also wraps ErrInvalidToken.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrKeysUnavailable means no verification keys could be loaded (the
	// JWKS endpoint is failing); it is the gateway's problem, not the caller's.
	ErrKeysUnavailable = errors.New("JWT verification keys unavailable")
)

// tokenError carries a message written for the person holding the token,
// while still matching ErrInvalidToken and the underlying cause (often one
// of jwt's sentinel errors) with errors.Is.
type tokenError struct {
	msg   string
	cause error
}

func (e *tokenError) Error() string { return e.msg }

func (e *tokenError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrInvalidToken}
	}
	return []error{ErrInvalidToken, e.cause}
}

// invalid makes a tokenError.
func invalid(cause error, format string, args ...any) error {
	return &tokenError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// explain turns an error from jwt.Parser into one that says what to fix.
// jwt may report several claim problems at once; the first in this order
// wins, since e.g. a bad signature makes the claims meaningless.
func (v *Verifier) explain(err error, claims jwt.MapClaims) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid(err, "token is malformed: %s", strings.TrimPrefix(err.Error(), jwt.ErrTokenMalformed.Error()+": "))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid(err, "token signature is invalid")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// jwt reports claims of the wrong type (e.g. exp as a string) this way.
		return invalid(err, "token cannot be verified: %v", err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return v.explainMissing(err, claims)
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalid(err, "token expired at %s", claimTime(claims, "exp"))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalid(err, "token is not valid until %s (nbf); check the issuer's clock", claimTime(claims, "nbf"))
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid(err, "token is issued in the future at %s (iat); check the issuer's clock", claimTime(claims, "iat"))
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		iss, _ := claims.GetIssuer()
		return invalid(err, "token issuer is %q, expected %q", iss, v.cfg.Issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		aud, _ := claims.GetAudience()
		return invalid(err, "token audience does not include %q (token has %q)", v.cfg.Audience, []string(aud))
	default:
		return invalid(err, "token is invalid: %v", err)
	}
}

// explainMissing names the missing required claim.
func (v *Verifier) explainMissing(err error, claims jwt.MapClaims) error {
	if _, ok := claims["exp"]; !ok {
		return invalid(err, "token has no exp claim; tokens without an expiry are not accepted")
	}
	if aud, _ := claims.GetAudience(); v.cfg.Audience != "" && len(aud) == 0 {
		return invalid(err, "token has no aud claim, expected %q", v.cfg.Audience)
	}
	if iss, _ := claims.GetIssuer(); v.cfg.Issuer != "" && iss == "" {
		return invalid(err, "token has no iss claim, expected %q", v.cfg.Issuer)
	}
	return invalid(err, "token is missing a required claim: %v", err)
}

// claimTime renders a NumericDate claim for an error message.
func claimTime(claims jwt.MapClaims, name string) string {
	var (
		d   *jwt.NumericDate
		err error
	)
	switch name {
	case "exp":
		d, err = claims.GetExpirationTime()
	case "nbf":
		d, err = claims.GetNotBefore()
	case "iat":
		d, err = claims.GetIssuedAt()
	}
	if err != nil || d == nil {
		return "an unknown time"
	}
	return d.UTC().Format(time.RFC3339)
}

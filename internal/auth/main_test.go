package auth

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that JWKS fetches never leave goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package hooks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a hook call leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a stream
// copier or upstream request that outlives its client is a leak under load.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

//go:build !unix

package store

import (
	"context"
	"sync"
)

// migrateMu stands in for flock(2) where it is not available: it serialises
// migrations within this process only. Separate processes starting at once
// on one SQLite file then rely on each goose migration being a single
// transaction (and on goose's retry when creating its version table).
var migrateMu sync.Mutex

func lockFile(context.Context, string) (func() error, error) {
	migrateMu.Lock()
	return func() error { migrateMu.Unlock(); return nil }, nil
}

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package usage

import "os"

// lockFile is a no-op where flock is unavailable: there, a spool directory
// must not be shared by two processes.
func lockFile(f *os.File, wait bool) (bool, error) { return true, nil }

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package usage

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f. A writer holds it on the
// spool file it appends to, so that a replaying process (or a second Writer)
// never reads and deletes a file still being written. The lock belongs to
// the open file, so it dies with the process: a crashed writer's files become
// replayable.
func lockFile(f *os.File, wait bool) (bool, error) {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		default:
			return false, err
		}
	}
}

//go:build unix

package session

import (
	"errors"
	"syscall"
)

// processGone reports whether no process has this pid. Signal 0 checks
// without sending anything; EPERM means a process of another user has it.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

package session

import (
	"errors"
	"os"
	"syscall"
)

// processGone reports whether no process has this pid: OpenProcess fails
// with ERROR_INVALID_PARAMETER (87) then. Any other failure (access
// denied) means a process exists.
func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return errors.Is(err, syscall.Errno(87))
	}
	p.Release()
	return false
}

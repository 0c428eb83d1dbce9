//go:build !unix

package e2e

import (
	"errors"
	"syscall"
)

// kill is Unix only: these tests signal processes by pid, which Windows
// cannot do.
func kill(pid int, sig syscall.Signal) error {
	return errors.New("e2e: signals by pid need a Unix system")
}

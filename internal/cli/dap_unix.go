//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package cli

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// protectStdout returns a writer on the process's real stdout and points
// file descriptor 1 at stderr. When stdout is not the process's os.Stdout
// (tests), it is returned as is.
func protectStdout(stdout io.Writer) (io.Writer, error) {
	if stdout != os.Stdout {
		return stdout, nil
	}
	fd, err := syscall.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("duplicating stdout: %w", err)
	}
	syscall.CloseOnExec(fd)
	if err := dupOnto(2, 1); err != nil {
		return nil, fmt.Errorf("redirecting stdout to stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "dap-stdout"), nil
}

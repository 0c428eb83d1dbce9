//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package cli

import (
	"io"
	"os"
)

// protectStdout returns the real stdout and points os.Stdout at stderr,
// so that Go code in this process (a library, Delve starting a debuggee
// with os.Stdout as its output) cannot write into the DAP stream. Without
// dup2 the process's standard handle itself stays as it is: only the Unix
// build moves file descriptor 1. When stdout is not the process's
// os.Stdout (tests), it is returned as is.
func protectStdout(stdout io.Writer) (io.Writer, error) {
	if stdout != os.Stdout {
		return stdout, nil
	}
	real := os.Stdout
	os.Stdout = os.Stderr
	return real, nil
}

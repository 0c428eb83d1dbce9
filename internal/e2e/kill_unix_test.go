//go:build unix

package e2e

import "syscall"

// kill sends sig to pid; signal 0 checks that the process exists.
func kill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package pipeline

import (
	"os/exec"
	"syscall"
)

// startLowPriority starts the index helper, then gives it the lowest CPU
// priority: outside Linux the nice value is the process's, for all its
// threads, and its children inherit it.
func startLowPriority(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, helperNice)
	return nil
}

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package pipeline

import (
	"os/exec"
	"syscall"
)

// helperNice is the index helper's nice value: the lowest priority.
const helperNice = 19

// prepareHelper puts the helper in a process group of its own, which it
// leads: its go commands and their compilers join it, and one signal to
// the group ends them all.
func prepareHelper(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
}

// killHelperGroup kills the helper's process group.
func killHelperGroup(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.Process.Pid > 0 {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// endHelperGroup, in the helper, kills the process group it leads (itself
// last, with it): the go commands a cancelled load started. A helper that
// leads no group (started by hand) ends its load through its context
// only.
func endHelperGroup() {
	if syscall.Getpgrp() == syscall.Getpid() {
		_ = syscall.Kill(0, syscall.SIGKILL)
	}
}

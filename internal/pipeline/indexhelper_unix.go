//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package pipeline

import (
	"os/exec"
	"syscall"
)

// helperNice is the index helper's nice value: low, not the lowest. At 19
// the helper gets a CPU only when nothing else wants one: on a loaded
// machine (CI, load 10 on 2 cores) a program that crashed at once waited
// more than 20 s for the index that names its other writer. At 10 it
// yields to Delve's build and the program, and still finishes.
const helperNice = 10

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

//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package cli

import (
	"os/exec"
	"syscall"
)

// detach puts the program in its own process group, so that a Ctrl-C at
// the terminal reaches lockscope alone (which then takes the live profiles
// and stops the program). These systems have no parent-death signal, so
// unlike on Linux the program outlives a lockscope that is killed.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

package cli

import (
	"os/exec"
	"syscall"
)

// detach puts the program in its own process group, so that a Ctrl-C at
// the terminal reaches lockscope alone (which then takes the live profiles
// and stops the program), and has the kernel kill the program if lockscope
// dies without stopping it.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

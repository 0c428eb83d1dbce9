//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package pipeline

import "os/exec"

// prepareHelper does nothing: lockscope leads no process groups here.
func prepareHelper(*exec.Cmd) {}

// startLowPriority starts the helper at the normal priority.
func startLowPriority(cmd *exec.Cmd) error { return cmd.Start() }

// killHelperGroup kills the helper; a go command it started ends when its
// own work does.
func killHelperGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// endHelperGroup does nothing: the load ends through its context.
func endHelperGroup() {}

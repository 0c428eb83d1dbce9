//go:build !linux

package cli

import "os/exec"

// detach leaves the program in lockscope's process group where the Linux
// process attributes are not available.
func detach(cmd *exec.Cmd) {}

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package cli

import "os/exec"

// detach leaves the program in lockscope's process group where the Unix
// process attributes are not available.
func detach(cmd *exec.Cmd) {}

package testutil

import (
	"os"
	"strconv"
	"strings"
)

// PeakRSSKB returns this process's own peak resident set size in KiB: VmHWM
// in /proc/self/status. It reports false where there is no such file
// (outside Linux).
//
// A benchmark that measures a child process's peak has the child report
// this, not the rusage Maxrss that wait4 returns for it: os/exec starts a
// child with CLONE_VM, so until exec it shares the parent's pages, and the
// kernel carries that high-water mark over exec. A child's Maxrss is thus
// at least the parent's RSS at the spawn, and a benchmark whose parent
// holds a large input measures the parent.
func PeakRSSKB() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb, err == nil && kb > 0
		}
	}
	return 0, false
}

//go:build unix

package profiles

import (
	"os"
	"syscall"
	"time"
)

// processCPU is the CPU time (user+system) this process has used so far:
// on a loaded machine it varies much less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childCPU is the CPU time a finished child process used.
func childCPU(ps *os.ProcessState) time.Duration {
	return ps.UserTime() + ps.SystemTime()
}

//go:build unix

package profiles

import (
	"os"
	"runtime"
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

// childPeakRSSMB is a finished child's peak RSS in MB, from its rusage:
// Linux and the BSDs count Maxrss in KiB, macOS in bytes.
func childPeakRSSMB(ps *os.ProcessState) (float64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return float64(ru.Maxrss) / (1 << 20), true
	}
	return float64(ru.Maxrss) / 1024, true
}

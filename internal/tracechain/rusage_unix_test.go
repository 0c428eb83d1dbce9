//go:build unix

package tracechain

import (
	"os"
	"runtime"
	"syscall"
)

// processCPU is the CPU time (user+sys, GC included) this process has
// used so far, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// childMaxRSSMB is a finished child's peak RSS in MB (rusage Maxrss: KiB
// on Linux and the BSDs, bytes on macOS).
func childMaxRSSMB(ps *os.ProcessState) float64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / 1024
}

//go:build !unix

package tracechain

import "os"

// processCPU is not measured without getrusage: the benchmark's CPU
// ratios read 0 here, and its wall-time ratios still hold.
func processCPU() float64 { return 0 }

// childMaxRSSMB is not known without rusage.
func childMaxRSSMB(ps *os.ProcessState) float64 { return 0 }

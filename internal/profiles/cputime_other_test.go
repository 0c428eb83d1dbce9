//go:build !unix

package profiles

import (
	"os"
	"time"
)

// processCPU is not measured here; the benchmark reports wall time only.
func processCPU() time.Duration { return 0 }

func childCPU(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

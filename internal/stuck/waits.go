package stuck

import (
	"github.com/google/pprof/profile"
)

// CountWaits counts the lock waits a block profile records as ended, by
// every line on their stacks, for [Sample.WaitsEnded]. Counting each line
// of a stack (not only the first one outside the runtime) makes the
// count move whenever any wait through a goroutine's waiting line ends,
// whichever frame a profile reader would charge it to: a lock inside a
// library is charged to the library's line here, and the dump's first
// frame outside sync is that line too. Only stacks that wait in Lock or
// RLock count; channel and WaitGroup waits are left out.
func CountWaits(p *profile.Profile) map[Line]int64 {
	out := map[Line]int64{}
	if p == nil || len(p.SampleType) == 0 {
		return out
	}
	for _, s := range p.Sample {
		if len(s.Value) == 0 || !lockStack(s) {
			continue
		}
		seen := map[Line]bool{}
		for _, loc := range s.Location {
			if loc == nil {
				continue
			}
			for _, ln := range loc.Line {
				if ln.Function == nil {
					continue
				}
				k := Line{ln.Function.Filename, int(ln.Line)}
				if !seen[k] {
					seen[k] = true
					out[k] += s.Value[0]
				}
			}
		}
	}
	return out
}

// lockStack reports whether a block-profile sample waited in a mutex.
func lockStack(s *profile.Sample) bool {
	for _, loc := range s.Location {
		if loc == nil {
			continue
		}
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			switch ln.Function.Name {
			case "sync.(*Mutex).Lock", "sync.(*RWMutex).Lock", "sync.(*RWMutex).RLock",
				"internal/sync.(*Mutex).Lock", "internal/sync.(*Mutex).lockSlow", "sync.(*Mutex).lockSlow":
				return true
			}
		}
	}
	return false
}

package capture

import (
	"path/filepath"
	"strconv"
)

// Names of the files that TestFlags makes go test write.
const (
	TestMutexFile = "mutex.pb.gz"
	TestBlockFile = "block.pb.gz"
	TestTraceFile = "trace.out"
)

// TestFlags returns `go test` flags that write the mutex and block profiles
// (and a trace, when trace is set) into outDir, at the given rates (0 means
// the defaults). With binary set, the flags carry the -test. prefix that a
// test binary run directly (for example under Delve) needs. The files
// appear when the test binary exits.
func TestFlags(outDir string, mutexFraction, blockRate int, trace, binary bool) []string {
	if mutexFraction <= 0 {
		mutexFraction = DefaultMutexFraction
	}
	if blockRate <= 0 {
		blockRate = DefaultBlockRate
	}
	p := "-"
	if binary {
		p = "-test."
	}
	flags := []string{
		p + "mutexprofile=" + filepath.Join(outDir, TestMutexFile),
		p + "mutexprofilefraction=" + strconv.Itoa(mutexFraction),
		p + "blockprofile=" + filepath.Join(outDir, TestBlockFile),
		p + "blockprofilerate=" + strconv.Itoa(blockRate),
	}
	if trace {
		flags = append(flags, p+"trace="+filepath.Join(outDir, TestTraceFile))
	}
	return flags
}

package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// Throwaway harness: turns on mutex/block profiling at rate 1 and writes both
// profiles (and optionally a CPU profile) when main returns.
var lockscopeCPUFile *os.File

func init() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	if p := os.Getenv("LOCKSCOPE_CPU"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			panic(err)
		}
		lockscopeCPUFile = f
		pprof.StartCPUProfile(f)
	}
}

func lockscopeWriteProfiles() {
	if lockscopeCPUFile != nil {
		pprof.StopCPUProfile()
		lockscopeCPUFile.Close()
	}
	dir := os.Getenv("LOCKSCOPE_OUT")
	for _, k := range []string{"mutex", "block"} {
		f, err := os.Create(dir + "/" + k + ".pb.gz")
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup(k).WriteTo(f, 0); err != nil {
			panic(err)
		}
		f.Close()
	}
}

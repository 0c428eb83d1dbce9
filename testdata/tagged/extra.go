//go:build lockscope_extra

package main

var counts = map[string]int{}

// extra writes a map with no lock: only the tagged build has it.
func extra() {
	counts["x"] = 1 // lockscope:tagged-write
}

//go:build race

package e2e

// raceEnabled makes TestMain build the lockscope binary with -race too, so
// that `go test -race` also checks the proxy's own goroutines end to end.
const raceEnabled = true

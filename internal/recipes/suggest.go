package recipes

import "github.com/lockscope/lockscope/internal/contention"

// Suggest returns the suggestions a report carries for its map writes:
// the stopping breakpoint for every contended or unguarded write, then, for
// each contended write, a logpoint variant that prints how many goroutines
// wait without stopping the program. The session and the CLI both use it,
// so that they offer the same things.
func Suggest(writes []contention.MapWrite, goVersion string) ([]contention.Breakpoint, error) {
	stops, err := ForReport(writes, goVersion, Options{})
	if err != nil {
		return nil, err
	}
	var contended []contention.MapWrite
	for _, w := range writes {
		if w.Contended && w.NoBreakpoint == "" {
			contended = append(contended, w)
		}
	}
	logs, err := ForReport(contended, goVersion, Options{Log: true})
	if err != nil {
		return stops, err
	}
	return append(stops, logs...), nil
}

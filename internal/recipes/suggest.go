package recipes

import "github.com/lockscope/lockscope/internal/contention"

// Suggest returns the suggestions a report carries for its map writes:
// the stopping breakpoint for every contended or unguarded write, then, for
// each contended write, a logpoint variant that prints how many goroutines
// wait without stopping the program. internal/pipeline wires it for the
// session and the CLI alike, so that they offer the same things. Like
// ForReport, it returns the writes anew, with NoBreakpoint set on those
// that cannot get one.
func Suggest(writes []contention.MapWrite, goVersion string) ([]contention.Breakpoint, []contention.MapWrite, error) {
	stops, writes, err := ForReport(writes, goVersion, Options{})
	if err != nil {
		return nil, writes, err
	}
	var contended []contention.MapWrite
	for _, w := range writes {
		if w.Contended && w.NoBreakpoint == "" {
			contended = append(contended, w)
		}
	}
	logs, _, err := ForReport(contended, goVersion, Options{Log: true})
	if err != nil {
		return stops, writes, err
	}
	return append(stops, logs...), writes, nil
}

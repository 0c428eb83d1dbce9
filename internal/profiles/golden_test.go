package profiles

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/profiles/golden")

// TestGolden compares the analysis of each recorded profile with a golden
// report. Volatile things are normalised so that the goldens read well and
// survive a re-recording that tells the same story: paths are relative to
// the module root (the profiles were recorded elsewhere), lines with a
// marker print as the marker, delays print as shares rounded to 0.01, and
// durations in notes are elided. Exact numbers are checked against pprof
// itself in TestAgainstPprof. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	for _, rc := range recorded {
		name := rc.prog + "." + rc.kind
		t.Run(name, func(t *testing.T) {
			got := renderGolden(t, analyzeRecorded(t, rc.prog, rc.kind))
			path := filepath.Join(profilesDir, "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/profiles -run TestGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("report for %s differs from %s (run with -update to accept)\ngot:\n%s\nwant:\n%s", name, path, got, want)
			}
		})
	}
}

var (
	durationRx = regexp.MustCompile(`\b[0-9][0-9.]*(ns|µs|us|ms|s|m|h)\b`)
	absPathRx  = regexp.MustCompile(`[^\s():]+\.go`)
)

func renderGolden(t *testing.T, r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kind %s, %d samples\n", r.Kind, r.Samples)
	section := func(title string, hs []contention.Hotspot) {
		fmt.Fprintf(&b, "%s: %d\n", title, len(hs))
		for _, h := range hs {
			fn := h.Function
			if h.PprofFunction != "" {
				fn += " (pprof: " + h.PprofFunction + ")"
			}
			lock := "not-lock"
			if h.Lock {
				lock = "lock"
			}
			fmt.Fprintf(&b, "  share %.2f  %s.%s %s  %s  %s\n", h.Share, h.Primitive, h.Method, lock, fn, site(t, h.File, h.Line))
			for i, st := range h.Stacks {
				fmt.Fprintf(&b, "    stack %d:", i+1)
				for _, f := range st {
					fmt.Fprintf(&b, " %s %s;", f.Function, site(t, f.File, f.Line))
				}
				b.WriteString("\n")
			}
		}
	}
	section("hotspots", r.Hotspots)
	section("runtimeInternal", r.RuntimeInternal)
	section("excluded", r.Excluded)
	b.WriteString("notes:\n")
	for _, note := range r.Notes {
		n := absPathRx.ReplaceAllStringFunc(note.String(), relPath)
		n = durationRx.ReplaceAllString(n, "<duration>")
		fmt.Fprintf(&b, "  [%s] %s\n", note.Code, n)
	}
	return b.String()
}

package profiles

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// root is the module root, relative to this package's directory.
const root = "../.."

// profilesDir holds the recorded profiles (see its README).
var profilesDir = filepath.Join(root, "testdata", "profiles")

// recorded lists the recorded profiles, by program, and the kind of each.
var recorded = []struct{ prog, kind string }{
	{"ledger", contention.KindMutex}, {"ledger", contention.KindBlock},
	{"ledger-trimpath", contention.KindMutex}, {"ledger-trimpath", contention.KindBlock},
	{"rwcache", contention.KindMutex}, {"rwcache", contention.KindBlock},
	{"inventory", contention.KindMutex}, {"inventory", contention.KindBlock},
	{"inventory-noopt", contention.KindMutex}, {"inventory-noopt", contention.KindBlock},
	{"handoff", contention.KindMutex}, {"handoff", contention.KindBlock},
	{"calm", contention.KindMutex}, {"calm", contention.KindBlock},
	{"testwait", contention.KindMutex}, {"testwait", contention.KindBlock},
}

func profilePath(prog, kind string) string {
	return filepath.Join(profilesDir, prog+"."+kind+".pb.gz")
}

func readProfile(t testing.TB, prog, kind string) []byte {
	t.Helper()
	b, err := os.ReadFile(profilePath(prog, kind))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func analyzeRecorded(t testing.TB, prog, kind string) Result {
	t.Helper()
	r, err := AnalyzeBytes(context.Background(), readProfile(t, prog, kind), profilePath(prog, kind), kind)
	if err != nil {
		t.Fatalf("AnalyzeBytes(%s %s): %v", prog, kind, err)
	}
	return r
}

// relPath turns a path recorded on the machine that made the profiles into
// one relative to the module root (testdata/...), or $GOROOT/src/... for the
// standard library, so that tests pass in any checkout.
func relPath(p string) string {
	if i := strings.Index(p, "/testdata/"); i >= 0 {
		return p[i+1:]
	}
	if i := strings.LastIndex(p, "/src/"); i >= 0 {
		return "$GOROOT" + p[i:]
	}
	return p
}

var (
	markerMu    sync.Mutex
	markerCache = map[string]map[int]string{}
	markerRx    = regexp.MustCompile(`lockscope:([A-Za-z0-9_-]+)`)
)

// markers returns the marker comments of a source file under the module
// root, by line: line numbers are never written into tests.
func markers(t testing.TB, rel string) map[int]string {
	t.Helper()
	markerMu.Lock()
	defer markerMu.Unlock()
	if m, ok := markerCache[rel]; ok {
		return m
	}
	m := map[int]string{}
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err == nil {
		for i, ln := range strings.Split(string(b), "\n") {
			if sm := markerRx.FindStringSubmatch(ln); sm != nil {
				m[i+1] = sm[1]
			}
		}
	}
	markerCache[rel] = m
	return m
}

// lineBefore returns the last line before `before` whose text contains s,
// to find lines without a marker (such as the Lock above a marked write).
func lineBefore(t testing.TB, rel string, before int, s string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := before - 2; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return i + 1
		}
	}
	t.Fatalf("%q not found before line %d of %s", s, before, rel)
	return 0
}

// site prints a hotspot's place as file:line, with the marker when the line
// has one: file:line@marker.
func site(t testing.TB, file string, line int) string {
	rel := relPath(file)
	s := fmt.Sprintf("%s:%d", rel, line)
	if strings.HasPrefix(rel, "testdata/") {
		if m := markers(t, rel)[line]; m != "" {
			s = fmt.Sprintf("%s:@%s", rel, m)
		}
	}
	return s
}

// find returns the hotspot at rel:line, or fails.
func find(t testing.TB, hs []contention.Hotspot, rel string, line int) contention.Hotspot {
	t.Helper()
	for _, h := range hs {
		if relPath(h.File) == rel && h.Line == line {
			return h
		}
	}
	var have []string
	for _, h := range hs {
		have = append(have, site(t, h.File, h.Line))
	}
	t.Fatalf("no hotspot at %s:%d; have %v", rel, line, have)
	return contention.Hotspot{}
}

package crashrace

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the module root, seen from this package's folder.
const repoRoot = "../.."

// readRecorded returns a text recorded by testdata/crashrace/record.sh.
func readRecorded(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "crashrace", name))
	if err != nil {
		t.Fatalf("read recording: %v", err)
	}
	return string(b)
}

// markerLine finds the line of testdata/<prog>/main.go that carries the
// comment "lockscope:<marker>". Tests never hard-code line numbers.
func markerLine(t testing.TB, prog, marker string) int {
	t.Helper()
	path := filepath.Join(repoRoot, "testdata", prog, "main.go")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open fixture: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	found := 0
	for sc.Scan() {
		n++
		if strings.Contains(sc.Text(), "// lockscope:"+marker) {
			if found != 0 {
				t.Fatalf("%s: marker %q on lines %d and %d", path, marker, found, n)
			}
			found = n
		}
	}
	if found == 0 {
		t.Fatalf("%s: no marker %q", path, marker)
	}
	return found
}

// isFixtureFile reports whether a path printed by the runtime names
// testdata/<prog>/main.go, whether absolute (the recording machine's
// checkout, or this one's) or module-relative (-trimpath).
func isFixtureFile(path, prog string) bool {
	return strings.HasSuffix(filepath.ToSlash(path), "testdata/"+prog+"/main.go")
}

package crashrace

import (
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

// isFixtureFile reports whether a path printed by the runtime names
// testdata/<prog>/main.go, whether absolute (the recording machine's
// checkout, or this one's) or module-relative (-trimpath).
func isFixtureFile(path, prog string) bool {
	return strings.HasSuffix(filepath.ToSlash(path), "testdata/"+prog+"/main.go")
}

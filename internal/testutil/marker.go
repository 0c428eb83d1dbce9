package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MarkerLine returns the 1-based line of file that carries the comment
// "// lockscope:<name>". Tests find lines by these markers and never write
// line numbers down, so that a fixture can change without breaking them.
//
// The name is matched whole: "hot-write" does not find a line marked
// "// lockscope:hot-write-2". A relative file is taken from the module root
// (as in "testdata/ledger/main.go"), whatever package the test is in. The
// test fails when the marker is on no line, or on more than one.
func MarkerLine(t testing.TB, file, name string) int {
	t.Helper()
	if !filepath.IsAbs(file) {
		file = filepath.Join(ModuleRoot(t), file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("looking for marker lockscope:%s: %v", name, err)
	}
	found := 0
	for i, l := range strings.Split(string(data), "\n") {
		if !hasMarker(l, name) {
			continue
		}
		if found != 0 {
			t.Fatalf("%s: marker lockscope:%s on lines %d and %d", file, name, found, i+1)
		}
		found = i + 1
	}
	if found == 0 {
		t.Fatalf("%s: no line carries the marker // lockscope:%s", file, name)
	}
	return found
}

// hasMarker reports whether line carries "// lockscope:<name>" followed by
// the end of the line or by a character that cannot continue a name.
func hasMarker(line, name string) bool {
	tag := "// lockscope:" + name
	for {
		i := strings.Index(line, tag)
		if i < 0 {
			return false
		}
		line = line[i+len(tag):]
		if line == "" || !isNameByte(line[0]) {
			return true
		}
	}
}

func isNameByte(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

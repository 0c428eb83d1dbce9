package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHasMarker(t *testing.T) {
	for _, c := range []struct {
		line, name string
		want       bool
	}{
		{"\tm[k]++ // lockscope:hot-write", "hot-write", true},
		{"\tm[k]++ // lockscope:hot-write and why", "hot-write", true},
		{"\tm[k]++ // lockscope:hot-write-2", "hot-write", false},
		{"\tm[k]++ // lockscope:hot-writer", "hot-write", false},
		{"\tm[k]++ // lockscope:hot-write_x", "hot-write", false},
		{"\tm[k]++ // lockscope:hot-write-2 // lockscope:hot-write", "hot-write", true},
		{`	x := "lockscope:hot-write"`, "hot-write", false},
		{"\tm[k]++ // lockscope:hot", "hot-write", false},
	} {
		if got := hasMarker(c.line, c.name); got != c.want {
			t.Errorf("hasMarker(%q, %q) = %v, want %v", c.line, c.name, got, c.want)
		}
	}
}

func TestMarkerLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	src := "package main\n\nfunc f() { // lockscope:f-2\n} // lockscope:f\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := MarkerLine(t, file, "f"); got != 4 {
		t.Errorf("MarkerLine(f) = %d, want 4", got)
	}
	if got := MarkerLine(t, file, "f-2"); got != 3 {
		t.Errorf("MarkerLine(f-2) = %d, want 3", got)
	}
	// A relative path is taken from the module root.
	if got := MarkerLine(t, "testdata/ledger/main.go", "hot-write"); got <= 0 {
		t.Errorf("MarkerLine of the ledger fixture = %d", got)
	}
}

// fatalRecorder stands for the test in MarkerLine's failure cases: it
// keeps the message and stops the call as t.Fatalf would.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

// fatalOf runs MarkerLine and returns the message it failed with, or "".
func fatalOf(t *testing.T, file, name string) (msg string) {
	r := &fatalRecorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		msg = r.msg
	}()
	MarkerLine(r, file, name)
	return ""
}

func TestMarkerLineFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "main.go")
	src := "package main\n\nvar a = 1 // lockscope:twice\nvar b = 2 // lockscope:twice\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := fatalOf(t, file, "twice"); !strings.Contains(msg, "on lines 3 and 4") {
		t.Errorf("a marker on two lines: %q, want a failure naming both lines", msg)
	}
	if msg := fatalOf(t, file, "absent"); !strings.Contains(msg, "no line carries the marker // lockscope:absent") {
		t.Errorf("a missing marker: %q, want a failure naming it", msg)
	}
}

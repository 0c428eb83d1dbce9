package crashrace

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// watch feeds text to a CrashWatcher in the chunk sizes next returns.
func watch(text []byte, next func() int) (*contention.Crash, bool) {
	var w CrashWatcher
	for len(text) > 0 {
		n := min(max(next(), 1), len(text))
		w.Write(text[:n])
		text = text[n:]
	}
	return w.Crash()
}

// TestCrashWatcher checks that the streaming watcher, fed in any chunks,
// finds what ParseCrash finds in the whole text.
func TestCrashWatcher(t *testing.T) {
	files := []string{
		"crashmap.txt", "crashmap-gotraceback-all.txt", "crashmap-gotraceback-system.txt",
		"crashmap-gotraceback-none.txt", "crashmap-trimpath.txt", "crashread-race.txt", "crashiter.txt",
		"racymap-race.txt",
	}
	for _, name := range files {
		text := []byte(programOutput(200) + readRecorded(t, name))
		want, wantOK := ParseCrash(string(text))
		got, ok := watch(text, func() int { return 1 })
		if ok != wantOK || !reflect.DeepEqual(got, want) {
			t.Errorf("%s byte by byte: %+v %v, want %+v %v", name, got, ok, want, wantOK)
		}
		r := rand.New(rand.NewPCG(3, uint64(len(text))))
		for range 20 {
			got, ok := watch(text, func() int { return r.IntN(200) })
			if ok != wantOK || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s random chunks: %+v %v, want %+v %v", name, got, ok, want, wantOK)
			}
		}
	}
	// The crash is found before the dump ends, from the lines so far.
	var w CrashWatcher
	w.Write([]byte("fatal error: concurrent map wr"))
	if c, ok := w.Crash(); !ok || c.Reason != "concurrent map wr" {
		t.Errorf("partial reason line: %+v %v", c, ok)
	}
}

func TestCrashWatcherBounded(t *testing.T) {
	var w CrashWatcher
	w.Write([]byte(readRecorded(t, "crashmap.txt")))
	line := bytes.Repeat([]byte("y"), 1000)
	line = append(line, '\n')
	for range 20000 { // 20 MB after the dump
		w.Write(line)
	}
	if len(w.kept) > MaxCrashBytes {
		t.Errorf("kept %d bytes, limit %d", len(w.kept), MaxCrashBytes)
	}
	c, ok := w.Crash()
	if !ok || c.Function == "" {
		t.Errorf("crash lost after a flood: %+v %v", c, ok)
	}
	// Output before any crash is not kept at all.
	var v CrashWatcher
	for range 1000 {
		v.Write(line)
	}
	if len(v.kept) != 0 {
		t.Errorf("kept %d bytes with no fatal error", len(v.kept))
	}
	if _, ok := v.Crash(); ok {
		t.Error("crash found in plain output")
	}
}

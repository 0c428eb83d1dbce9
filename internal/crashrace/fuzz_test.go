package crashrace

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func addRecordings(f *testing.F, add func(string)) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "testdata", "crashrace", "*.txt"))
	if len(files) == 0 {
		f.Fatal("no recordings to seed the corpus")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(string(b))
	}
}

// FuzzRaceParser checks that any input parses without panicking, that the
// result does not depend on how the input is cut into chunks, and that
// complete reports are well formed.
func FuzzRaceParser(f *testing.F) {
	addRecordings(f, func(s string) { f.Add([]byte(s), uint8(7)) })
	f.Add([]byte("WARNING: DATA RACE\nRead at 0x0 by main goroutine:\n  ()\n      :0\n=================="), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := ParseRaces(string(data))
		n := int(step)%32 + 1
		chunked := feed(data, func() int { return n })
		if !reflect.DeepEqual(whole, chunked) {
			t.Fatalf("chunks of %d: %+v\nwhole: %+v", n, chunked, whole)
		}
		for _, r := range whole {
			if !r.Truncated && (r.Access.Op == "" || r.Previous.Op == "") {
				t.Fatalf("complete race without both accesses: %+v", r)
			}
			for _, a := range [...]struct {
				line  int
				stack int
			}{{r.Access.Line, len(r.Access.Stack)}, {r.Previous.Line, len(r.Previous.Stack)}} {
				if a.line < 0 || a.stack > MaxRaceFrames {
					t.Fatalf("bad access in %+v", r)
				}
			}
		}
		if len(whole) > MaxRaces {
			t.Fatalf("%d races kept", len(whole))
		}
	})
}

// FuzzParseCrash checks that any text parses without panicking and that a
// crash found is well formed.
func FuzzParseCrash(f *testing.F) {
	addRecordings(f, func(s string) { f.Add(s) })
	f.Add("fatal error: x\ngoroutine 1 [running]:\n()\n\t:1\ncreated by \n\t/a:2\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, ok := ParseCrash(text)
		// The streaming watcher agrees with the whole-text parse (the
		// inputs here stay far below its line and size limits).
		if len(text) < MaxLineBytes {
			w, wok := watch([]byte(text), func() int { return 3 })
			if wok != ok || !reflect.DeepEqual(w, c) {
				t.Fatalf("CrashWatcher %+v %v, ParseCrash %+v %v", w, wok, c, ok)
			}
		}
		if !ok {
			if c != nil {
				t.Fatal("crash returned with ok false")
			}
			return
		}
		if c.Reason == "" || strings.Contains(c.Reason, "\n") {
			t.Fatalf("reason %q", c.Reason)
		}
		if c.Line < 0 || c.Goroutine < 0 || len(c.Stack) > maxCrashFrames {
			t.Fatalf("bad crash %+v", c)
		}
		if c.File == "" && (c.Line != 0 || c.Function != "") {
			t.Fatalf("location without a file: %+v", c)
		}
		// The same text read by the stop path agrees on the reason.
		if d, ok := CrashFromStop("fatal error: "+c.Reason, c.Stack, c.Goroutine); ok && (d.File != c.File || d.Line != c.Line) {
			t.Fatalf("CrashFromStop charged %s:%d, ParseCrash %s:%d", d.File, d.Line, c.File, c.Line)
		}
	})
}

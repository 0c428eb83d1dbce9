package crashrace

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
	"github.com/lockscope/lockscope/internal/usercode"
)

// crashMarkers names, per fixture, the marker of each function that can
// trip the runtime's map check. crashmap has two writers and either may be
// caught; crashread and crashiter are always caught in the reader.
var crashMarkers = map[string]map[string]string{
	"crashmap":  {"main.hit": "crash-hit", "main.resetPage": "crash-reset"},
	"crashread": {"main.peek": "crashread-read"},
	"crashiter": {"main.total": "crashiter-range"},
}

var crashReasons = map[string]string{
	"crashmap":  ReasonMapWrites,
	"crashread": ReasonMapReadWrite,
	"crashiter": ReasonMapIterWrite,
}

// headerRE is the test's own reading of the first goroutine header, an
// oracle independent of goroutineHeader.
var headerRE = regexp.MustCompile(`(?m)^goroutine (\d+) [^\n]*\[running[^\]]*\]:$`)

// checkCrash checks a parsed crash against the fixture's source markers.
func checkCrash(t *testing.T, name, prog, text string, c *contention.Crash) {
	t.Helper()
	if c.Reason != crashReasons[prog] {
		t.Errorf("%s: reason %q, want %q", name, c.Reason, crashReasons[prog])
	}
	if !c.MapCrash {
		t.Errorf("%s: MapCrash false for %q", name, c.Reason)
	}
	marker, ok := crashMarkers[prog][c.Function]
	if !ok {
		t.Fatalf("%s: charged to %q (%s:%d), want one of %v", name, c.Function, c.File, c.Line, crashMarkers[prog])
	}
	if want := testutil.MarkerLine(t, "testdata/"+prog+"/main.go", marker); c.Line != want {
		t.Errorf("%s: line %d, want %d (marker %s)", name, c.Line, want, marker)
	}
	if !isFixtureFile(c.File, prog) {
		t.Errorf("%s: file %q, want testdata/%s/main.go", name, c.File, prog)
	}
	m := headerRE.FindStringSubmatch(text[strings.LastIndex(text, "fatal error: "):])
	if m == nil {
		t.Fatalf("%s: oracle found no running goroutine header", name)
	}
	if got := c.Goroutine; got <= 0 || m[1] != itoa(got) {
		t.Errorf("%s: goroutine %d, want %s", name, got, m[1])
	}
	if len(c.Stack) < 2 {
		t.Fatalf("%s: stack %v, want the runtime's frames and the user's", name, c.Stack)
	}
	// The dump starts in the runtime: maps.fatal (single, all) or
	// runtime.fatal (system, crash).
	if top := c.Stack[0].Function; top != "internal/runtime/maps.fatal" && top != "runtime.fatal" {
		t.Errorf("%s: top frame %q, want the runtime's fatal", name, top)
	}
	if c.CreatedBy == nil || c.CreatedBy.Function != "main.main" || !isFixtureFile(c.CreatedBy.File, prog) {
		t.Errorf("%s: created by %+v, want main.main in the fixture", name, c.CreatedBy)
	}
	for _, f := range c.Stack {
		if f.Function == "" || f.File == "" || f.Line <= 0 {
			t.Errorf("%s: incomplete frame %+v", name, f)
		}
		if strings.HasPrefix(f.Function, "created by") || strings.Contains(f.Function, "(0x") ||
			strings.Contains(f.Function, "(...)") || strings.Contains(f.Function, "({") {
			t.Errorf("%s: frame function still has its arguments: %q", name, f.Function)
		}
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestParseCrashRecorded(t *testing.T) {
	for _, tc := range []struct {
		file, prog string
	}{
		{"crashmap.txt", "crashmap"},
		{"crashmap-gotraceback-single.txt", "crashmap"},
		{"crashmap-gotraceback-all.txt", "crashmap"},
		{"crashmap-gotraceback-system.txt", "crashmap"},
		{"crashmap-gotraceback-crash.txt", "crashmap"},
		{"crashmap-noopt.txt", "crashmap"},
		{"crashmap-trimpath.txt", "crashmap"},
		{"crashread.txt", "crashread"},
		{"crashread-race.txt", "crashread"},
		{"crashiter.txt", "crashiter"},
		{"crashiter-noopt.txt", "crashiter"},
		{"crashiter-race.txt", "crashiter"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			text := readRecorded(t, tc.file)
			c, ok := ParseCrash(text)
			if !ok {
				t.Fatalf("no crash found")
			}
			checkCrash(t, tc.file, tc.prog, text, c)
		})
	}
}

func TestParseCrashVariants(t *testing.T) {
	// GOTRACEBACK=system and crash print the runtime frames the default
	// hides, and frame registers after the offset.
	c, _ := ParseCrash(readRecorded(t, "crashmap-gotraceback-system.txt"))
	var names []string
	for _, f := range c.Stack {
		names = append(names, f.Function)
	}
	if !strings.Contains(strings.Join(names, " "), "runtime.mapassign_faststr") {
		t.Errorf("system traceback: stack %v lacks runtime.mapassign_faststr", names)
	}
	// "[running, locked to thread]" is still the running goroutine.
	text := readRecorded(t, "crashiter.txt")
	if !strings.Contains(text, "locked to thread") {
		t.Fatalf("crashiter.txt was recorded without LockOSThread")
	}
	if c, _ := ParseCrash(text); c.Goroutine == 0 {
		t.Errorf("locked to thread: goroutine not read")
	}
	// Built without inlining, the user frame has arguments and an offset.
	c, _ = ParseCrash(readRecorded(t, "crashmap-noopt.txt"))
	if _, ok := crashMarkers["crashmap"][c.Function]; !ok {
		t.Errorf("noopt: charged to %q", c.Function)
	}
	// With GOTRACEBACK=none there is a reason and nothing else.
	c, ok := ParseCrash(readRecorded(t, "crashmap-gotraceback-none.txt"))
	if !ok || c.Reason != ReasonMapWrites || c.File != "" || c.Goroutine != 0 || len(c.Stack) != 0 {
		t.Errorf("none: got %+v, %v; want the reason only", c, ok)
	}
	// -trimpath prints module-relative paths, also for the runtime.
	c, _ = ParseCrash(readRecorded(t, "crashmap-trimpath.txt"))
	if !strings.HasPrefix(c.File, "github.com/lockscope/lockscope/testdata/crashmap/") {
		t.Errorf("trimpath: file %q", c.File)
	}
}

// TestParseCrashMixed buries a recorded dump in a program's own output, as
// a terminal shows stdout and stderr together.
func TestParseCrashMixed(t *testing.T) {
	dump := readRecorded(t, "crashmap-gotraceback-all.txt")
	var b strings.Builder
	for i := range 500 {
		b.WriteString("request ")
		b.WriteString(itoa(int64(i)))
		b.WriteString(" ok: fatal errors so far: 0\n")
	}
	// An unfinished line of the program's, then the runtime's text.
	b.WriteString("progress 99%")
	b.WriteString(strings.ReplaceAll(dump, "\n", "\r\n"))
	b.WriteString("exit status 2\n")
	text := b.String()
	c, ok := ParseCrash(text)
	if !ok {
		t.Fatal("no crash found")
	}
	checkCrash(t, "mixed", "crashmap", strings.ReplaceAll(text, "\r", ""), c)

	// A program line written between a frame and its location, as
	// happens when stdout is flushed while the runtime prints.
	lines := strings.Split(readRecorded(t, "crashread.txt"), "\n")
	var mixed []string
	for i, l := range lines {
		mixed = append(mixed, l)
		if i == 3 {
			mixed = append(mixed, "stdout: still serving")
		}
	}
	c, ok = ParseCrash(strings.Join(mixed, "\n"))
	if !ok {
		t.Fatal("no crash found in interleaved text")
	}
	checkCrash(t, "interleaved", "crashread", strings.Join(lines, "\n"), c)
}

func TestParseCrashNotACrash(t *testing.T) {
	for _, text := range []string{
		"",
		"hello\nworld\n",
		"fatal error: \n",
		"fatal error:",
		readRecorded(t, "racymap-race.txt"),
		"panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:5 +0x1d\n",
	} {
		if c, ok := ParseCrash(text); ok {
			t.Errorf("ParseCrash(%.40q) = %+v, want none", text, c)
		}
	}
	// Other fatal errors are crashes, but not map crashes.
	c, ok := ParseCrash("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [semacquire]:\nsync.runtime_Semacquire(0xc000010000?)\n\t/usr/local/go/src/runtime/sema.go:71 +0x25\nmain.main()\n\t/x/main.go:9 +0x55\n")
	if !ok || c.MapCrash || c.Reason != "all goroutines are asleep - deadlock!" || c.Function != "main.main" || c.Line != 9 {
		t.Errorf("deadlock: %+v, %v", c, ok)
	}
}

func TestMapCrashReasons(t *testing.T) {
	got := MapCrashReasons()
	if len(got) != 4 {
		t.Fatalf("MapCrashReasons() = %v", got)
	}
	for _, r := range got {
		if !IsMapCrash(r) {
			t.Errorf("IsMapCrash(%q) = false", r)
		}
	}
	if IsMapCrash("all goroutines are asleep - deadlock!") {
		t.Error("a deadlock is no map crash")
	}
}

// TestMapCrashReasonsInRuntime checks the list against the runtime's own
// source: every fatal("concurrent map ...") in internal/runtime/maps is
// recognised, so a new one in a later Go fails here.
func TestMapCrashReasonsInRuntime(t *testing.T) {
	found := runtimeMapReasons(t)
	if len(found) == 0 {
		t.Fatal("no fatal(\"concurrent map ...\") calls found in GOROOT")
	}
	for r := range found {
		if !IsMapCrash(r) {
			t.Errorf("the runtime raises %q; MapCrashReasons does not list it", r)
		}
	}
}

func TestCrashFromStop(t *testing.T) {
	// The frames Delve's stackTrace gives at its fatal-throw breakpoint:
	// runtime.fatal first, as the runtime's GOTRACEBACK=system dump.
	dump, _ := ParseCrash(readRecorded(t, "crashmap-gotraceback-system.txt"))
	frames := dump.Stack
	for _, desc := range []string{
		`"concurrent map writes"`,              // exceptionInfo description, stopped text
		`fatal error: "concurrent map writes"`, // "<exceptionId>: <description>"
		"fatal error: concurrent map writes",   // the runtime's own line
		"concurrent map writes",                // the bare reason
		"  fatal error: \"concurrent map writes\"\n",
	} {
		c, ok := CrashFromStop(desc, frames, 19)
		if !ok {
			t.Errorf("CrashFromStop(%q): not a crash", desc)
			continue
		}
		if c.Reason != ReasonMapWrites || !c.MapCrash || c.Goroutine != 19 {
			t.Errorf("CrashFromStop(%q) = reason %q map %v goroutine %d", desc, c.Reason, c.MapCrash, c.Goroutine)
		}
		if c.Function != dump.Function || c.Line != dump.Line || c.File != dump.File {
			t.Errorf("CrashFromStop(%q) charged %s:%d %s, want %s:%d %s", desc, c.File, c.Line, c.Function, dump.File, dump.Line, dump.Function)
		}
	}
	// go/constant shortens long strings to `"...` with no closing quote.
	long := `"` + strings.Repeat("x", 66) + `...`
	if c, ok := CrashFromStop("fatal error: "+long, nil, 1); !ok || !strings.HasSuffix(c.Reason, "...") || strings.HasPrefix(c.Reason, `"`) {
		t.Errorf("shortened: %+v %v", c, ok)
	}
	// Another fatal error is read when it says it is one.
	if c, ok := CrashFromStop(`fatal error: "all goroutines are asleep - deadlock!"`, frames, 1); !ok || c.MapCrash || c.Reason != "all goroutines are asleep - deadlock!" {
		t.Errorf("prefixed deadlock: %+v %v", c, ok)
	}
	for _, desc := range []string{"", "fatal error: ", `""`, "Error getting throw reason: could not find symbol value for s",
		"fatal error: Error getting throw reason: x",
		// Unprefixed and not a map error: Delve describes a panic like this.
		`"assignment to entry in nil map"`, `"all goroutines are asleep - deadlock!"`, "runtime error: index out of range [3] with length 3",
	} {
		if c, ok := CrashFromStop(desc, frames, 1); ok {
			t.Errorf("CrashFromStop(%q) = %+v, want none", desc, c)
		}
	}
	// No frames: the reason alone.
	if c, ok := CrashFromStop(`"concurrent map read and map write"`, nil, 3); !ok || c.File != "" || c.Reason != ReasonMapReadWrite {
		t.Errorf("no frames: %+v %v", c, ok)
	}
	// The caller's slice is not kept.
	c, _ := CrashFromStop("concurrent map writes", frames, 1)
	c.Stack[0].Line = -1
	if frames[0].Line == -1 {
		t.Error("CrashFromStop aliases the frames it was given")
	}
}

func TestAddWriters(t *testing.T) {
	hitLine := testutil.MarkerLine(t, "testdata/crashmap/main.go", "crash-hit")
	resetLine := testutil.MarkerLine(t, "testdata/crashmap/main.go", "crash-reset")
	file := "/src/lockscope/testdata/crashmap/main.go"
	hit := contention.Site{File: file, Line: hitLine, Function: "main.hit"}
	reset := contention.Site{File: file, Line: resetLine, Function: "main.resetPage"}
	writes := []contention.MapWrite{
		{File: file, Line: hitLine, Function: "main.hit", Map: "hits", Op: contention.OpIncDec, Unguarded: true, Writers: []contention.Site{reset}},
		{File: file, Line: resetLine, Function: "main.resetPage", Map: "hits", Op: contention.OpAssign, Unguarded: true, Writers: []contention.Site{hit, hit}},
		{File: "/src/lockscope/testdata/other/main.go", Line: hitLine, Map: "m", Writers: []contention.Site{{File: "x.go", Line: 1}}},
	}
	for _, tc := range []struct {
		name  string
		crash contention.Crash
		want  []contention.Site
	}{
		{"hit", contention.Crash{File: file, Line: hitLine}, []contention.Site{reset}},
		{"reset, duplicates dropped", contention.Crash{File: file, Line: resetLine}, []contention.Site{hit}},
		{"trimpath", contention.Crash{File: "github.com/lockscope/lockscope/testdata/crashmap/main.go", Line: hitLine}, []contention.Site{reset}},
		{"other file", contention.Crash{File: "/elsewhere/main.go", Line: hitLine}, nil},
		{"bare name", contention.Crash{File: "main.go", Line: hitLine}, nil},
		{"no write there", contention.Crash{File: file, Line: hitLine + 100}, nil},
		{"no location", contention.Crash{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.crash
			AddWriters(&c, writes)
			if !equalSites(c.Writers, tc.want) {
				t.Errorf("writers %v, want %v", c.Writers, tc.want)
			}
		})
	}
	AddWriters(nil, writes) // must not panic
}

func equalSites(a, b []contention.Site) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFrameHelpers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"main.hit(...)", "main.hit"},
		{"internal/runtime/maps.fatal({0x4d63b0?, 0x0?})", "internal/runtime/maps.fatal"},
		{"main.(*Cache).Refresh(0xc000010000)", "main.(*Cache).Refresh"},
		{"main.main.func2()", "main.main.func2"},
		{"github.com/a/b.Map[...].Store(0x1, {0x2, 0x3})", "github.com/a/b.Map[...].Store"},
	} {
		if got := stripArgs(tc.in); got != tc.want {
			t.Errorf("stripArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ fn, pkg string }{
		{"main.hit", "main"},
		{"main.(*T).M", "main"},
		{"internal/runtime/maps.(*Iter).Next", "internal/runtime/maps"},
		{"github.com/a/b.F[go.shape.int]", "github.com/a/b"},
		{"sync.(*Mutex).Lock", "sync"},
	} {
		if got := usercode.FuncPackage(tc.fn); got != tc.pkg {
			t.Errorf("FuncPackage(%q) = %q, want %q", tc.fn, got, tc.pkg)
		}
	}
	for _, tc := range []struct {
		fn, file string
		user     bool
	}{
		{"main.hit", "/work/main/testdata/crashmap/main.go", true},
		{"runtime.mapassign_faststr", "/usr/local/go/src/internal/runtime/maps/runtime_faststr.go", false},
		{"internal/sync.(*Mutex).lockSlow", "/usr/local/go/src/internal/sync/mutex.go", false},
		{"sync.(*Mutex).Lock", "/usr/local/go/src/sync/mutex.go", false},
		{"fmt.Sprintf", "/usr/local/go/src/fmt/print.go", false},
		{"myapp/store.(*S).Put", "/home/u/myapp/store/s.go", true},
		{"example.com/othermod.F", "/work/othermod/f.go", true},
	} {
		if got := classify([]contention.Frame{{Function: tc.fn, File: tc.file}}, usercode.Rules{})[0].Chargeable(); got != tc.user {
			t.Errorf("classify(%s, %s) chargeable = %v, want %v", tc.fn, tc.file, got, tc.user)
		}
	}
}

// TestCrashFromStopRecorded reads what a live Delve sent on a fatal throw
// (recorded by TestDelveFatalThrow -update): the stopped event, the
// exceptionInfo response and the stackTrace frames, whose names Delve cuts
// to the last path element ("maps.fatal").
func TestCrashFromStopRecorded(t *testing.T) {
	for _, prog := range []string{"crashmap", "crashread", "crashiter"} {
		t.Run(prog, func(t *testing.T) {
			var stop struct {
				Stopped struct {
					Reason, Description, Text string
					ThreadID                  int `json:"threadId"`
				} `json:"stopped"`
				ExceptionInfo struct {
					ExceptionID string `json:"exceptionId"`
					Description string `json:"description"`
				} `json:"exceptionInfo"`
				Frames []contention.Frame `json:"frames"`
			}
			if err := json.Unmarshal([]byte(readRecorded(t, "delve-"+prog+".json")), &stop); err != nil {
				t.Fatal(err)
			}
			want := `"` + crashReasons[prog] + `"`
			if stop.Stopped.Reason != "exception" || stop.Stopped.Description != "fatal error" || stop.Stopped.Text != want ||
				stop.ExceptionInfo.ExceptionID != "fatal error" || stop.ExceptionInfo.Description != want {
				t.Fatalf("recorded stop %+v is not Delve's fatal-throw form", stop)
			}
			c, ok := CrashFromStop(stop.ExceptionInfo.Description, stop.Frames, int64(stop.Stopped.ThreadID))
			if !ok {
				t.Fatal("no crash")
			}
			marker, ok := crashMarkers[prog][c.Function]
			if !ok {
				t.Fatalf("charged to %q", c.Function)
			}
			if line := testutil.MarkerLine(t, "testdata/"+prog+"/main.go", marker); c.Line != line || !isFixtureFile(c.File, prog) || c.Reason != crashReasons[prog] {
				t.Errorf("got %s:%d %q, want line %d %q", c.File, c.Line, c.Reason, line, crashReasons[prog])
			}
		})
	}
}

// TestShortNames: with Delve's cut names, the GOROOT of the stack's own
// runtime frames tells the standard library from a user's package that
// happens to be called "maps" or "sync".
func TestShortNames(t *testing.T) {
	frames := []contention.Frame{
		{Function: "runtime.fatal", File: "/opt/go/src/runtime/panic.go", Line: 1241},
		{Function: "maps.fatal", File: "/opt/go/src/runtime/panic.go", Line: 1181},
		{Function: "runtime.mapassign_faststr", File: "/opt/go/src/internal/runtime/maps/runtime_faststr.go", Line: 273},
		{Function: "maps.(*Index).Put", File: "/home/u/app/maps/index.go", Line: 12},
		{Function: "main.main", File: "/home/u/app/main.go", Line: 5},
	}
	c, ok := CrashFromStop(`"concurrent map writes"`, frames, 1)
	if !ok || c.Function != "maps.(*Index).Put" || c.Line != 12 {
		t.Errorf("got %+v, want the user's maps.(*Index).Put", c)
	}
	// Without a runtime frame to show the GOROOT, names decide.
	c, _ = CrashFromStop(`"concurrent map writes"`, frames[3:], 1)
	if c.Function != "main.main" {
		t.Errorf("no GOROOT: got %q, want main.main", c.Function)
	}
	// The standard library under that GOROOT is skipped by its path.
	c, _ = CrashFromStop("fatal error: x", []contention.Frame{
		frames[0],
		{Function: "fmtsort.Sort", File: "/opt/go/src/internal/fmtsort/sort.go", Line: 60},
		{Function: "fmt.(*pp).printValue", File: "/opt/go/src/fmt/print.go", Line: 800},
		{Function: "store.(*S).Dump", File: "/home/u/app/store/s.go", Line: 30},
	}, 1)
	if c.Function != "store.(*S).Dump" {
		t.Errorf("stdlib by path: got %q, want store.(*S).Dump", c.Function)
	}
}

package crashrace

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

var raceRecordings = []string{"racymap-race.txt", "crashread-race.txt", "crashiter-race.txt"}

// checkRacymap checks racymap's one race: record's write against forget's
// delete, both through the runtime's map code, in either order.
func checkRacymap(t *testing.T, name string, races []contention.Race) {
	t.Helper()
	if len(races) != 1 {
		t.Fatalf("%s: %d races, want 1: %+v", name, len(races), races)
	}
	r := races[0]
	if r.Truncated {
		t.Errorf("%s: truncated", name)
	}
	want := map[string]int{
		"main.record": testutil.MarkerLine(t, "testdata/racymap/main.go", "racy-record"),
		"main.forget": testutil.MarkerLine(t, "testdata/racymap/main.go", "racy-forget"),
	}
	wantOp := map[string]string{"main.record": "runtime.mapassign_fast64", "main.forget": "runtime.mapdelete_fast64"}
	seen := map[string]bool{}
	for _, a := range []contention.RaceAccess{r.Access, r.Previous} {
		line, ok := want[a.Function]
		if !ok {
			t.Errorf("%s: access charged to %q (%s:%d)", name, a.Function, a.File, a.Line)
			continue
		}
		seen[a.Function] = true
		if a.Line != line || !isFixtureFile(a.File, "racymap") {
			t.Errorf("%s: %s at %s:%d, want line %d", name, a.Function, a.File, a.Line, line)
		}
		if a.Op != "write" {
			t.Errorf("%s: %s op %q, want write", name, a.Function, a.Op)
		}
		if !a.Map || a.MapOp != wantOp[a.Function] {
			t.Errorf("%s: %s map %v %q, want %s", name, a.Function, a.Map, a.MapOp, wantOp[a.Function])
		}
		if a.Goroutine <= 1 {
			t.Errorf("%s: %s goroutine %d, want a started goroutine", name, a.Function, a.Goroutine)
		}
		if len(a.CreatedAt) == 0 || a.CreatedAt[0].Function != "main.main" {
			t.Errorf("%s: %s created at %v, want main.main", name, a.Function, a.CreatedAt)
		}
		if len(a.Stack) < 2 || a.Stack[0].Function != wantOp[a.Function] {
			t.Errorf("%s: %s stack %v", name, a.Function, a.Stack)
		}
	}
	if len(seen) != 2 {
		t.Errorf("%s: accesses %s and %s, want record and forget", name, r.Access.Function, r.Previous.Function)
	}
	if r.Access.Goroutine == r.Previous.Goroutine {
		t.Errorf("%s: both accesses by goroutine %d", name, r.Access.Goroutine)
	}
}

func TestRaceRacymap(t *testing.T) {
	checkRacymap(t, "racymap-race.txt", ParseRaces(readRecorded(t, "racymap-race.txt")))
}

func TestRaceReadWrite(t *testing.T) {
	read := testutil.MarkerLine(t, "testdata/crashread/main.go", "crashread-read")
	write := testutil.MarkerLine(t, "testdata/crashread/main.go", "crashread-write")
	races := ParseRaces(readRecorded(t, "crashread-race.txt"))
	if len(races) == 0 {
		t.Fatal("no races")
	}
	mapRaces := 0
	for i, r := range races {
		if r.Truncated {
			t.Errorf("race %d truncated", i)
		}
		byOp := map[string]contention.RaceAccess{r.Access.Op: r.Access, r.Previous.Op: r.Previous}
		rd, wr := byOp["read"], byOp["write"]
		if rd.Function != "main.peek" || rd.Line != read || wr.Function != "main.restock" || wr.Line != write {
			t.Errorf("race %d: read %s:%d, write %s:%d; want peek:%d, restock:%d", i, rd.Function, rd.Line, wr.Function, wr.Line, read, write)
		}
		// The writer is the main goroutine, printed "by main goroutine".
		if wr.Goroutine != 1 {
			t.Errorf("race %d: writer goroutine %d, want 1 (main goroutine)", i, wr.Goroutine)
		}
		if rd.Map != wr.Map {
			t.Errorf("race %d: one side map, the other not: %+v", i, r)
		}
		if rd.Map {
			mapRaces++
			if !strings.HasPrefix(rd.MapOp, "runtime.mapaccess") || !strings.HasPrefix(wr.MapOp, "runtime.mapassign") {
				t.Errorf("race %d: map ops %q %q", i, rd.MapOp, wr.MapOp)
			}
		}
	}
	if mapRaces == 0 {
		t.Error("no race on the map itself (runtime.mapaccess against runtime.mapassign)")
	}
}

func TestRaceIteration(t *testing.T) {
	rng := testutil.MarkerLine(t, "testdata/crashiter/main.go", "crashiter-range")
	races := ParseRaces(readRecorded(t, "crashiter-race.txt"))
	iter := 0
	for _, r := range races {
		for _, a := range []contention.RaceAccess{r.Access, r.Previous} {
			if a.Map && (a.MapOp == "runtime.mapIterStart" || a.MapOp == "runtime.mapIterNext") {
				iter++
				if a.Op != "read" || a.Function != "main.total" || a.Line != rng {
					t.Errorf("iteration access %+v, want a read at main.total:%d", a, rng)
				}
			}
		}
	}
	if iter == 0 {
		t.Errorf("no iteration access among %d races", len(races))
	}
}

// feed gives text to a parser in the chunk sizes next returns.
func feed(text []byte, next func() int) []contention.Race {
	var p RaceParser
	for len(text) > 0 {
		n := min(max(next(), 1), len(text))
		p.Write(text[:n])
		text = text[n:]
	}
	p.Flush()
	return p.Races()
}

func TestRaceChunked(t *testing.T) {
	for _, name := range raceRecordings {
		text := []byte(readRecorded(t, name))
		want := ParseRaces(string(text))
		if len(want) == 0 {
			t.Fatalf("%s: no races", name)
		}
		if got := feed(text, func() int { return 1 }); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: one byte at a time: %+v\nwant %+v", name, got, want)
		}
		r := rand.New(rand.NewPCG(1, uint64(len(text))))
		for range 50 {
			if got := feed(text, func() int { return r.IntN(64) }); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: random chunks: %+v\nwant %+v", name, got, want)
			}
		}
	}
	checkRacymap(t, "byte by byte", feed([]byte(readRecorded(t, "racymap-race.txt")), func() int { return 1 }))
}

// TestRaceMixed puts a program's own lines between every line of a report,
// glues an unfinished program line before the report, and uses CRLF.
func TestRaceMixed(t *testing.T) {
	report := readRecorded(t, "racymap-race.txt")
	var b strings.Builder
	b.WriteString("starting\nloaded 20 entries\nworking...")
	for _, l := range strings.Split(strings.TrimSuffix(report, "\n"), "\n") {
		b.WriteString(l)
		b.WriteString("\r\n")
		b.WriteString("tick: Write at your own risk\r\n") // program output, not a header
	}
	mixed := b.String()
	checkRacymap(t, "mixed", ParseRaces(mixed))
	checkRacymap(t, "mixed, byte by byte", feed([]byte(mixed), func() int { return 1 }))

	// Every line of the report glued behind an unfinished program line, as
	// when stdout and stderr share a terminal and the program writes
	// without newlines.
	b.Reset()
	for _, l := range strings.Split(strings.TrimSuffix(report, "\n"), "\n") {
		b.WriteString("....")
		b.WriteString(l)
		b.WriteString("\n")
	}
	checkRacymap(t, "glued", ParseRaces(b.String()))

	// Two reports back to back, each with output around it, and a crash.
	all := "log 1\n" + readRecorded(t, "crashread-race.txt") + "log 2\n" + report
	got := ParseRaces(all)
	if n := len(ParseRaces(readRecorded(t, "crashread-race.txt"))) + 1; len(got) != n {
		t.Errorf("back to back: %d races, want %d", len(got), n)
	}
	checkRacymap(t, "last of several", got[len(got)-1:])
}

func TestRaceTruncated(t *testing.T) {
	text := readRecorded(t, "racymap-race.txt")
	full := ParseRaces(text)[0]
	start := strings.Index(text, raceWarning)
	end := strings.LastIndex(text, raceSeparator)
	// Cut the text at every byte inside the report: the report is kept,
	// marked truncated, and whatever was read agrees with the full one.
	for cut := start + len(raceWarning); cut < end; cut++ {
		races := ParseRaces(text[:cut])
		if len(races) != 1 {
			t.Fatalf("cut at %d: %d races", cut, len(races))
		}
		r := races[0]
		if !r.Truncated {
			t.Fatalf("cut at %d: not truncated", cut)
		}
		if r.Access.Op != "" && r.Access.Op != full.Access.Op || r.Access.Goroutine != 0 && r.Access.Goroutine != full.Access.Goroutine {
			t.Fatalf("cut at %d: access %+v disagrees with %+v", cut, r.Access, full.Access)
		}
		if len(r.Access.Stack) > len(full.Access.Stack) || len(r.Previous.Stack) > len(full.Previous.Stack) {
			t.Fatalf("cut at %d: more frames than the whole report", cut)
		}
	}
	// A report that stops while another starts is kept, truncated.
	cut := text[:strings.Index(text, "Previous write")]
	races := ParseRaces(cut + text)
	if len(races) != 2 || !races[0].Truncated || races[1].Truncated {
		t.Fatalf("cut then whole: %+v", races)
	}
	if races[0].Access.Function != full.Access.Function || races[0].Previous.Function != "" {
		t.Errorf("cut report: %+v", races[0])
	}
	// Without Flush, the open report is not returned yet.
	var p RaceParser
	p.Write([]byte(cut))
	if n := len(p.Races()); n != 0 {
		t.Errorf("open report returned before Flush: %d", n)
	}
	p.Flush()
	if r := p.Races(); len(r) != 1 || !r[0].Truncated {
		t.Errorf("after Flush: %+v", r)
	}
}

func TestRaceGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 1<<16)
	for i := range buf {
		buf[i] = byte(r.UintN(256))
	}
	if got := ParseRaces(string(buf)); len(got) != 0 {
		t.Errorf("random bytes: %d races", len(got))
	}
	for _, text := range []string{
		"",
		"==================\n==================\n",
		readRecorded(t, "crashmap.txt"),
		"Write at 0x1 by goroutine 2:\n  main.f()\n      /x.go:1 +0x1\n",
	} {
		if got := ParseRaces(text); len(got) != 0 {
			t.Errorf("ParseRaces(%.40q) = %+v, want none", text, got)
		}
	}
	// Broken pieces inside a report: kept, without inventing locations.
	got := ParseRaces("WARNING: DATA RACE\nWrite at 0x1 by goroutine x:\n  main.f()\n      nocolon +0x1\n  ()\n      :12\nRead at by main goroutine:\n==================\n")
	if len(got) != 1 || !got[0].Truncated || got[0].Access.File != "" {
		t.Errorf("broken report: %+v", got)
	}
}

// TestRaceBounded feeds hostile streams and checks that the parser's
// memory stays bounded.
func TestRaceBounded(t *testing.T) {
	var p RaceParser
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 32 { // 32 MiB with no newline
		p.Write(chunk)
	}
	if len(p.lines.partial) > MaxLineBytes || cap(p.lines.partial) > 2*MaxLineBytes {
		t.Errorf("partial line grew to %d (cap %d)", len(p.lines.partial), cap(p.lines.partial))
	}
	p.Write([]byte("\n"))

	// A report that never ends: cut at MaxReportLines.
	p.Write([]byte("WARNING: DATA RACE\nWrite at 0x1 by goroutine 2:\n"))
	frame := []byte("  main.f()\n      /x/main.go:3 +0x1\n")
	for range MaxReportLines {
		p.Write(frame)
	}
	races := p.Races()
	if len(races) != 1 || !races[0].Truncated || len(races[0].Access.Stack) != MaxRaceFrames {
		t.Fatalf("endless report: %d races, stack %d", len(races), len(races[0].Access.Stack))
	}
	if p.cur != nil && p.cur.lines > MaxReportLines {
		t.Errorf("open report holds %d lines", p.cur.lines)
	}

	// Endless reports: MaxRaces kept, the rest dropped.
	one := []byte(readRecorded(t, "racymap-race.txt"))
	var q RaceParser
	for range MaxRaces + 10 {
		q.Write(one)
	}
	if n := len(q.Races()); n != MaxRaces {
		t.Errorf("kept %d races, want %d", n, MaxRaces)
	}
}

func TestMapOp(t *testing.T) {
	for _, tc := range []struct {
		fn, op string
		ok     bool
	}{
		{"runtime.mapassign_faststr", "runtime.mapassign_faststr", true},
		{"runtime.mapaccess1_fast64", "runtime.mapaccess1_fast64", true},
		{"runtime.mapaccess2", "runtime.mapaccess2", true},
		{"runtime.mapdelete_fast64", "runtime.mapdelete_fast64", true},
		{"runtime.mapclear", "runtime.mapclear", true},
		{"runtime.mapIterStart", "runtime.mapIterStart", true},
		{"runtime.mapIterNext", "runtime.mapIterNext", true},
		{"runtime.mapiterinit", "runtime.mapiterinit", true},
		{"runtime.reflect_maplen", "runtime.reflect_maplen", true},
		{"internal/runtime/maps.runtime_mapassign_faststr", "runtime.mapassign_faststr", true},
		{"reflect.mapassign0", "reflect.mapassign0", true},
		{"maps.clone", "maps.clone", true},
		{"internal/runtime/maps.(*Map).putSlotSmall", "", false},
		{"runtime.makemap_small", "", false},
		{"runtime.mapinitnoop", "", false},
		{"main.mapassign", "", false},
		{"maps.Copy[...]", "", false},
	} {
		op, ok := MapOp(tc.fn)
		if op != tc.op || ok != tc.ok {
			t.Errorf("MapOp(%q) = %q, %v; want %q, %v", tc.fn, op, ok, tc.op, tc.ok)
		}
	}
}

package stuck

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
)

// The lock-order deadlock, from the dump the agent saved when it stepped
// aside (the runtime then ended the program): both goroutines are stuck
// for good, each holds the lock the other waits for, and the cycle is
// named with the lines a person would fix.
func TestLockOrderDeadlock(t *testing.T) {
	r := start(t, "stuck/deadlock")
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("the deadlock ended with %v, want exit status 2", err)
	}
	files, _, err := r.inj.Final()
	if err != nil {
		t.Fatal(err)
	}
	_, blocked, err := r.inj.Blocked()
	if err != nil || !blocked {
		t.Fatalf("Blocked: %v %v", blocked, err)
	}
	s := sampleOf(t, time.Now(), files["goroutines"], files["block"])
	res := Analyze([]Sample{s}, stuckIndex(t), Options{AllBlocked: true})
	if len(res.Stuck) != 2 {
		t.Fatalf("stuck waits %+v, want the two lockers", res.Stuck)
	}
	main := filepath.Join("deadlock", "main.go")
	want := map[string]struct {
		wait, lockedAt int
		lock, holds    string
	}{
		"main.transfer": {line(t, main, "transfer-lock-b"), line(t, main, "audit-lock-b"), "b", "a"},
		"main.audit":    {line(t, main, "audit-lock-a"), line(t, main, "transfer-lock-a"), "a", "b"},
	}
	ids := map[string]int64{}
	for _, w := range res.Stuck {
		ids[w.Function] = w.Goroutine
	}
	for _, w := range res.Stuck {
		exp, ok := want[w.Function]
		if !ok {
			t.Fatalf("a stuck wait in %s", w.Function)
		}
		if w.Line != exp.wait || w.Lock != exp.lock || !w.Forever || w.Primitive != contention.PrimMutex || w.LockAddr == "" {
			t.Errorf("%s: %+v, want a wait for %s at line %d, for good, with the mutex's address", w.Function, w, exp.lock, exp.wait)
		}
		if len(w.Holders) != 1 || w.Holders[0].LockedAt.Line != exp.lockedAt || w.Holders[0].State != "sync.Mutex.Lock" {
			t.Errorf("%s: holders %+v, want one that locked at line %d and waits in Lock", w.Function, w.Holders, exp.lockedAt)
		}
	}
	if len(res.Deadlocks) != 1 {
		t.Fatalf("deadlocks %+v, want one cycle", res.Deadlocks)
	}
	d := res.Deadlocks[0]
	tr, au := ids["main.transfer"], ids["main.audit"]
	first, second := "transfer", "audit"
	if au < tr {
		first, second = second, first
	}
	text := func(who string) string {
		if who == "transfer" {
			return fmt.Sprintf("goroutine %d holds a (main.go:%d) and waits for b at main.go:%d", tr,
				line(t, main, "transfer-lock-a"), line(t, main, "transfer-lock-b"))
		}
		return fmt.Sprintf("goroutine %d holds b (main.go:%d) and waits for a at main.go:%d", au,
			line(t, main, "audit-lock-b"), line(t, main, "audit-lock-a"))
	}
	if wantText := text(first) + "; " + text(second); d.Text != wantText {
		t.Errorf("cycle:\n got %s\nwant %s", d.Text, wantText)
	}
	if !d.Forever || len(d.Links) != 2 {
		t.Errorf("cycle %+v: want two links, for good", d)
	}
}

// A read lock taken twice on one goroutine with a writer queued in
// between: the second RLock waits behind the writer, which waits for the
// first. The cycle is named with the writer, and each wait with its lock.
func TestRecursiveReadLock(t *testing.T) {
	r := start(t, "stuck/rwrecursive")
	if err := r.cmd.Wait(); err == nil {
		t.Fatal("the program ended well; it must deadlock")
	}
	files, _, err := r.inj.Final()
	if err != nil {
		t.Fatal(err)
	}
	s := sampleOf(t, time.Now(), files["goroutines"], files["block"])
	res := Analyze([]Sample{s}, stuckIndex(t), Options{AllBlocked: true})
	main := filepath.Join("rwrecursive", "main.go")
	var reader, writer *contention.StuckWait
	for i, w := range res.Stuck {
		switch w.Reason {
		case "sync.RWMutex.RLock":
			reader = &res.Stuck[i]
		case "sync.RWMutex.Lock":
			writer = &res.Stuck[i]
		}
	}
	if len(res.Stuck) != 2 || reader == nil || writer == nil {
		t.Fatalf("stuck %+v, want the reader and the writer", res.Stuck)
	}
	if reader.Line != line(t, main, "rw-inner-rlock") || reader.Lock != "mu" || reader.Primitive != contention.PrimRWMutex {
		t.Errorf("reader %+v", reader)
	}
	if len(reader.Holders) != 1 || reader.Holders[0].Goroutine != reader.Goroutine || !reader.Holders[0].Read ||
		reader.Holders[0].Line != line(t, main, "rw-call") || reader.Holders[0].LockedAt.Line != line(t, main, "rw-outer-rlock") {
		t.Errorf("reader's holders %+v, want itself, reading, at the rw-call line", reader.Holders)
	}
	if len(reader.PendingWriters) != 1 || reader.PendingWriters[0].Goroutine != writer.Goroutine ||
		reader.PendingWriters[0].Line != line(t, main, "rw-writer-lock") {
		t.Errorf("reader's pending writers %+v, want the writer", reader.PendingWriters)
	}
	if len(writer.Holders) != 1 || writer.Holders[0].Goroutine != reader.Goroutine || writer.PendingWriters != nil {
		t.Errorf("writer %+v, want the reader as its holder", writer)
	}
	want := fmt.Sprintf("goroutine %d holds mu (main.go:%d) and waits for it again at main.go:%d, behind goroutine %d, which waits to write-lock it at main.go:%d",
		reader.Goroutine, line(t, main, "rw-outer-rlock"), line(t, main, "rw-inner-rlock"), writer.Goroutine, line(t, main, "rw-writer-lock"))
	if len(res.Deadlocks) != 1 || res.Deadlocks[0].Text != want {
		t.Errorf("deadlocks %+v\nwant the text %s", res.Deadlocks, want)
	}
}

// A lock held for the whole window by a goroutine that waits for a slow
// backend, while the rest of the program runs: its three waiters are
// stuck past the threshold, the holder is named at its channel wait with
// the line that took the lock, and there is no cycle. With a threshold
// longer than the window, nothing is.
func TestLockHeldForTheWindow(t *testing.T) {
	r := start(t, "stuck/holdlock", "-hold", "120s")
	main := filepath.Join("holdlock", "main.go")
	var first Sample
	for deadline := time.Now().Add(30 * time.Second); ; {
		first = r.sample(t)
		if countState(first.Goroutines, "sync.Mutex.Lock") == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the three recorders never waited in Lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond)
	last := r.sample(t)
	samples := []Sample{first, last}
	// lockscope's own goroutines are left out, and only they are.
	ids, err := r.inj.AgentGoroutines()
	if err != nil || len(ids) == 0 {
		t.Fatalf("the agent's goroutines: %v %v", ids, err)
	}
	prog := program(last.Goroutines)
	for _, g := range prog {
		if ids[g.ID] {
			t.Errorf("goroutine %d of the agent kept as the program's", g.ID)
		}
	}
	if len(prog) != len(last.Goroutines)-len(ids) {
		t.Errorf("%d of %d goroutines kept; the agent has %d", len(prog), len(last.Goroutines), len(ids))
	}
	res := Analyze(samples, stuckIndex(t), Options{Threshold: 2 * time.Second})
	if len(res.Stuck) != 3 {
		t.Fatalf("stuck waits %+v, want the three recorders", res.Stuck)
	}
	for _, w := range res.Stuck {
		if w.Function != "main.record" || w.Line != line(t, main, "record-lock") || w.Lock != "reg.mu" || w.Forever {
			t.Errorf("stuck wait %+v, want main.record at the record-lock line, waiting for reg.mu", w)
		}
		if w.WaitNs < int64(2*time.Second) || w.WaitNs > int64(last.At.Sub(first.At)) {
			t.Errorf("waited %v, want between 2s and the %v between the dumps", time.Duration(w.WaitNs), last.At.Sub(first.At))
		}
		if len(w.Holders) != 1 {
			t.Fatalf("holders %+v, want flush", w.Holders)
		}
		h := w.Holders[0]
		if h.Function != "main.flush" || h.Line != line(t, main, "flush-wait") || h.LockedAt.Line != line(t, main, "flush-lock") ||
			h.State != "chan receive" || h.WaitsAt == nil || h.WaitsAt.Line != line(t, main, "flush-wait") {
			t.Errorf("holder %+v, want flush in its channel wait, locked at the flush-lock line", h)
		}
	}
	if len(res.Deadlocks) != 0 {
		t.Errorf("deadlocks %+v in a program that is only stalled", res.Deadlocks)
	}
	if res := Analyze(samples, stuckIndex(t), Options{Threshold: time.Minute}); len(res.Stuck) != 0 {
		t.Errorf("a one-minute threshold found %+v after a few seconds", res.Stuck)
	}
	// The last dump alone says nothing of how long anyone waited.
	if res := Analyze(samples[1:], stuckIndex(t), Options{Threshold: time.Second}); len(res.Stuck) != 0 {
		t.Errorf("one dump gave %+v", res.Stuck)
	}
}

// A hot lock is no stuck lock: eight goroutines taking turns on one
// mutex are found waiting on the same line in every dump, but their waits
// keep ending, and the section stays empty.
func TestHotLockIsNotStuck(t *testing.T) {
	r := start(t, "ledger", "-d", "0")
	samples := []Sample{r.sample(t)}
	for range 3 {
		time.Sleep(700 * time.Millisecond)
		samples = append(samples, r.sample(t))
	}
	// The test proves something only when the last dump has goroutines
	// waiting in Lock; eight goroutines on one mutex nearly always do, so
	// a few more dumps find one.
	for tries := 0; countState(samples[len(samples)-1].Goroutines, "sync.Mutex.Lock") == 0; tries++ {
		if tries == 20 {
			t.Fatal("no goroutine waited in Lock in 20 more dumps of the ledger")
		}
		time.Sleep(100 * time.Millisecond)
		samples = append(samples, r.sample(t))
	}
	if res := Analyze(samples, nil, Options{Threshold: time.Second}); len(res.Stuck) != 0 || len(res.Deadlocks) != 0 {
		t.Errorf("a hot lock reported stuck: %+v", res)
	}
}

func countState(gs []Goroutine, state string) int {
	n := 0
	for _, g := range gs {
		if g.State == state && !agent(g) {
			n++
		}
	}
	return n
}

// The runtime's own crash output parses too: the "fatal error" line
// before the first goroutine is skipped.
func TestParseCrashOutput(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "deadlock-crash.txt"))
	if err != nil {
		t.Fatal(err)
	}
	gs, err := ParseDump(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 3 {
		t.Fatalf("%d goroutines, want 3", len(gs))
	}
	g := gs[1]
	if g.State != "sync.Mutex.Lock" || len(g.Frames) != 5 || g.Frames[4].Function != "main.transfer" ||
		g.Frames[1].Function != "internal/sync.(*Mutex).lockSlow" || g.Frames[1].Arg0 == "" || g.Frames[0].PC == 0 ||
		g.CreatedBy == nil || g.CreatedBy.Function != "main.main" || g.CreatorID != 1 {
		t.Errorf("goroutine %+v", g)
	}
}

func TestParseDumpForms(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(t *testing.T, gs []Goroutine)
		err      string
	}{
		{name: "minutes and labels", in: "goroutine 7 gp=0xc000007a40 m=nil [sync.RWMutex.RLock, 12 minutes, locked to thread]:\n" +
			"main.(*Cache[...]).Get(0xc0000a0000, {0x4f2a10, 0x3})\n\t/src/C: dir/main.go:29 +0x4b\n" +
			"...additional frames elided...\ncreated by main.main\n\t/src/main.go:9 +0x1d\n",
			check: func(t *testing.T, gs []Goroutine) {
				g := gs[0]
				if g.ID != 7 || g.State != "sync.RWMutex.RLock" || g.Minutes != 12 || len(g.Frames) != 1 ||
					g.Frames[0].Function != "main.(*Cache[...]).Get" || g.Frames[0].File != "/src/C: dir/main.go" ||
					g.Frames[0].Line != 29 || g.Frames[0].Arg0 != "0xc0000a0000" || g.CreatorID != 0 {
					t.Errorf("%+v", g)
				}
			}},
		{name: "running elsewhere", in: "goroutine 3 [running]:\n\tgoroutine running on other thread; stack unavailable\n",
			err: "no function line"},
		{name: "running elsewhere, runtime form", in: "goroutine 3 [running]:\ngoroutine running on other thread; stack unavailable\n",
			check: func(t *testing.T, gs []Goroutine) {
				if len(gs) != 1 || len(gs[0].Frames) != 0 || gs[0].State != "running" {
					t.Errorf("%+v", gs)
				}
			}},
		{name: "cut short", in: "goroutine 1 [select]:\nmain.main()\n",
			check: func(t *testing.T, gs []Goroutine) {
				if len(gs) != 1 || len(gs[0].Frames) != 0 {
					t.Errorf("%+v", gs)
				}
			}},
		{name: "empty", in: "", err: "not a goroutine dump"},
		{name: "text", in: "hello\nworld\n", err: "not a goroutine dump"},
		{name: "bad id", in: "goroutine x [select]:\n", err: "bad id"},
		{name: "no state", in: "goroutine 1 []:\n", err: "empty state"},
		{name: "unbalanced", in: "goroutine 1 [select]:\nmain.f)\n\t/a.go:1\n", err: "unbalanced"},
		{name: "no line number", in: "goroutine 1 [select]:\nmain.f()\n\t/a.go\n", err: "no line number"},
		{name: "bad offset", in: "goroutine 1 [select]:\nmain.f()\n\t/a.go:3 +0xzz\n", err: "bad offset"},
		{name: "no file line", in: "goroutine 1 [select]:\nmain.f()\nmain.g()\n\t/a.go:3\n", err: "not followed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs, err := ParseDump([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, gs)
		})
	}
}

// A goroutine that asks again for a lock it holds is a cycle of one; the
// analysis needs no process for it (the index is a table here).
func TestSelfDeadlock(t *testing.T) {
	dump := "goroutine 5 [sync.Mutex.Lock]:\n" +
		"sync.(*Mutex).Lock(...)\n\t/go/src/sync/mutex.go:46\n" +
		"main.(*S).helper(0xc000010000)\n\t/p/main.go:20 +0x25\n" +
		"main.(*S).Do(0xc000010000)\n\t/p/main.go:12 +0x31\n"
	gs, err := ParseDump([]byte(dump))
	if err != nil {
		t.Fatal(err)
	}
	ix := tableIndex{
		calls: map[Line]Lock{{"/p/main.go", 20}: {Expr: "s.mu", ID: "S.mu"}, {"/p/main.go", 11}: {Expr: "s.mu", ID: "S.mu"}},
		held:  map[Line][]Lock{{"/p/main.go", 12}: {{Expr: "s.mu", ID: "S.mu", LockedAt: contention.Site{File: "/p/main.go", Line: 11}}}},
	}
	res := Analyze([]Sample{{At: time.Now(), Goroutines: gs}}, ix, Options{AllBlocked: true})
	if len(res.Deadlocks) != 1 {
		t.Fatalf("%+v", res)
	}
	if want := "goroutine 5 holds s.mu (main.go:11) and waits for it again at main.go:20"; res.Deadlocks[0].Text != want {
		t.Errorf("got %q, want %q", res.Deadlocks[0].Text, want)
	}
}

type tableIndex struct {
	calls map[Line]Lock
	held  map[Line][]Lock
}

func (x tableIndex) LockCall(file string, line int) (Lock, bool) {
	l, ok := x.calls[Line{file, line}]
	return l, ok
}

func (x tableIndex) Held(file string, line int) []Lock { return x.held[Line{file, line}] }

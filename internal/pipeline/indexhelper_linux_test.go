package pipeline

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// procStat reads fields of /proc/<path>/stat after the command name: the
// state is field 3 in proc(5)'s numbering, the process group 5, the nice
// value 19.
func procStat(path string) (state string, pgrp, nice int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", path, "stat"))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 17 {
		return "", 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	nice, _ = strconv.Atoi(f[16])
	return f[0], pgrp, nice, true
}

// groupMembers lists the live processes (zombies left out) of process
// group pgid.
func groupMembers(pgid int) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		state, pgrp, _, ok := procStat(filepath.Base(d))
		if ok && pgrp == pgid && state != "Z" {
			cmd, _ := os.ReadFile(filepath.Join(d, "cmdline"))
			out = append(out, filepath.Base(d)+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}

// helperChild finds the running helper: this process's child whose
// environment makes it one.
func helperChild(t *testing.T) int {
	t.Helper()
	for _, pid := range children(t) {
		env, _ := os.ReadFile(filepath.Join("/proc", pid, "environ"))
		if strings.Contains(string(env), helperEnv+"=1") {
			n, _ := strconv.Atoi(pid)
			return n
		}
	}
	return 0
}

// slowGo puts a go command first on PATH that, for the index's own
// `go list -deps`, marks that it runs and then sleeps (in place: the sleep
// is the go command's process); every other go command is the real one.
// It returns the marker's path.
func slowGo(t *testing.T) string {
	t.Helper()
	real, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "listing")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$*\" in *-deps*) echo $$ > '%s'; exec sleep 600;; esac\nexec '%s' \"$@\"\n", marker, real)
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return marker
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

// The embedded Delve reaps any child of the adapter once the debuggee
// runs (wait4(-1, __WALL)). With the helper, the session need not wait for
// the index's go commands: WaitIndexCommands returns once the helper runs,
// and the index loads whole while a reaper like Delve's steals every exit
// status, the helper's included. The helper, and everything it starts, run
// at a low CPU priority (helperNice); this process's threads keep theirs.
func TestHelperOutOfDelvesReach(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	freshCache(t)
	want := indexReport(t, dir, IndexOptions{})
	freshCache(t)
	p := New()
	defer p.Close()
	p.StartIndex(dir, IndexOptions{Helper: testHelper, HoldTypeCheck: true}, nil)
	if !p.WaitIndexCommands(context.Background()) {
		t.Fatal("WaitIndexCommands gave up")
	}
	// The helper is this process's only child: the go facts' go
	// commands are done.
	kids := children(t)
	helper := helperChild(t)
	if helper == 0 || len(kids) != 1 {
		t.Fatalf("children after WaitIndexCommands: %v, want the helper alone", kids)
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", helper))
	for _, task := range tasks {
		if _, _, nice, ok := procStat(strings.TrimPrefix(task, "/proc/")); ok && nice != helperNice {
			t.Errorf("helper thread %s runs at nice %d, want %d", task, nice, helperNice)
		}
	}
	// The thread lowered to fork the helper ends (its goroutine has
	// returned, but the runtime ends the thread a moment later).
	_, _, base, _ := procStat("self") // the main thread's
	lowered := func() (out []string) {
		own, _ := filepath.Glob("/proc/self/task/*")
		for _, task := range own {
			if _, _, nice, ok := procStat(strings.TrimPrefix(task, "/proc/")); ok && nice != base {
				out = append(out, fmt.Sprintf("%s at nice %d", task, nice))
			}
		}
		return out
	}
	for end := time.Now().Add(10 * time.Second); len(lowered()) > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if l := lowered(); len(l) > 0 {
		t.Errorf("this process's threads %v, its main thread at nice %d: the helper's priority leaked", l, base)
	}

	// Delve's wait4(-1) steals the helper's exit status before the
	// pipeline waits for it.
	reaped := 0
	testHookHelperExited = func(int) {
		var ws syscall.WaitStatus
		if pid, _ := syscall.Wait4(-1, &ws, syscall.WALL, nil); reaped == 0 {
			reaped = pid
		}
	}
	defer func() { testHookHelperExited = nil }()
	p.ResumeIndex()
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up")
	}
	p.Close()
	if reaped != helper {
		t.Fatalf("wait4(-1) reaped %d, want the helper %d", reaped, helper)
	}
	got := p.Build()
	if len(got.MapWrites) == 0 || !reflect.DeepEqual(got.MapWrites, want.MapWrites) || !reflect.DeepEqual(got.Notes, want.Notes) {
		t.Fatalf("index loaded by a helper reaped by another: %d map writes, notes %q; want %d, %q", len(got.MapWrites), got.Notes, len(want.MapWrites), want.Notes)
	}
}

// A cancelled load (a restart, a disconnect: Close) kills the helper's
// whole process group: its go command, busy, goes with it.
func TestHelperCancelEndsItsGroup(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	freshCache(t)
	marker := slowGo(t)
	p := New()
	p.StartIndex(dir, IndexOptions{Helper: testHelper, HoldTypeCheck: true}, nil)
	waitFor(t, "the helper's go list", func() bool { _, err := os.Stat(marker); return err == nil })
	helper := helperChild(t)
	if helper == 0 {
		t.Fatal("no helper running")
	}
	// Whatever this test finds, the sleeping go command goes.
	t.Cleanup(func() { _ = syscall.Kill(-helper, syscall.SIGKILL) })
	if m := groupMembers(helper); len(m) < 2 {
		t.Fatalf("the helper's group: %v, want the helper and its go command", m)
	}
	p.Close()
	waitFor(t, "the helper's group to end", func() bool { return len(groupMembers(helper)) == 0 })
	if r := p.Build(); len(r.MapWrites) != 0 || len(r.Notes) != 0 {
		t.Errorf("a cancelled load: %d map writes, notes %q; want none", len(r.MapWrites), r.Notes)
	}
}

// A helper whose adapter is gone (SIGKILLed: its stdin closes) kills its
// own process group, go commands included.
func TestHelperEndsWithTheAdapter(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	marker := slowGo(t)
	cmd := testHelper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	prepareHelper(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever this test finds, the sleeping go command goes.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	fmt.Fprintf(stdin, `{"protocol":%d,"dir":%q}`+"\n", helperProtocol, dir)
	waitFor(t, "the helper's go list", func() bool { _, err := os.Stat(marker); return err == nil })
	pgid := cmd.Process.Pid
	if m := groupMembers(pgid); len(m) < 2 {
		t.Fatalf("the helper's group: %v, want the helper and its go command", m)
	}
	stdin.Close()
	waitFor(t, "the helper's group to end", func() bool { return len(groupMembers(pgid)) == 0 })
}

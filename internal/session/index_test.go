package session

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/testutil"
)

// The source index's go list compiles each package for its export data.
// With indexBuildFlags, those are the very compiles of Delve's build: after
// the index of a module never built before, a build as Delve makes it
// compiles nothing (the module's packages were compiled twice before, once
// optimised for the index and once for Delve).
func TestIndexSharesDelvesCompiles(t *testing.T) {
	dir := t.TempDir() // a new path: nothing of it is in the build cache
	for name, text := range map[string]string{
		"go.mod":         "module example.com/fresh\n\ngo 1.22\n",
		"main.go":        "package main\n\nimport \"example.com/fresh/store\"\n\nfunc main() { store.Put(\"a\") }\n",
		"store/store.go": "package store\n\nimport \"sync\"\n\nvar (\n\tmu sync.Mutex\n\tm  = map[string]int{}\n)\n\nfunc Put(k string) {\n\tmu.Lock()\n\tm[k]++\n\tmu.Unlock()\n}\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := pipeline.New()
	p.StartIndex(dir, pipeline.IndexOptions{BuildFlags: indexBuildFlags(nil)}, nil)
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up")
	}
	p.Close()
	if r := p.Build(); len(r.MapWrites) != 1 {
		t.Fatalf("the index found %d map writes, want store.go's one; notes %q", len(r.MapWrites), r.Notes)
	}

	// Delve's build: its flags after the launch's (pkg/gobuild).
	cmd := exec.Command("go", "build", "-x", "-o", filepath.Join(t.TempDir(), "bin"), "-gcflags", "all=-N -l", ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var compiles []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "/compile -o ") {
			compiles = append(compiles, l)
		}
	}
	if len(compiles) > 0 {
		t.Errorf("Delve's build compiled %d packages again after the index:\n%s", len(compiles), strings.Join(compiles, "\n"))
	}
}

// indexRig launches testdata/ledger on the scripted backend (capture off)
// and answers its launch and configurationDone, with indexRunHead set to
// head. The index's go commands are done when it returns.
func indexRig(t *testing.T, head time.Duration) *rig {
	t.Helper()
	old := indexRunHead
	indexRunHead = head
	t.Cleanup(func() { indexRunHead = old })
	r := start(t)
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	launch := r.c.Send("launch", map[string]any{"mode": "debug", "program": dir, "lockscope": map[string]any{"capture": "off"}})
	h, _ := r.read(t)
	if h.Command != "launch" {
		t.Fatalf("backend got %q, want the launch", h.Command)
	}
	r.respond(t, h.Seq, "launch", nil)
	r.c.Response(t, launch)
	done := r.c.Send("configurationDone", nil)
	h, _ = r.read(t)
	if h.Command != "configurationDone" {
		t.Fatalf("backend got %q, want configurationDone", h.Command)
	}
	r.respond(t, h.Seq, "configurationDone", nil)
	r.c.Response(t, done)
	return r
}

// indexed waits up to timeout for a report that holds the source index.
func indexed(r *rig, timeout time.Duration) bool {
	_, ok := r.c.Seen(timeout, func(m daptest.Message) bool {
		return m.Event == dapx.EventReport && strings.Contains(string(m.Raw), `"kind":"source"`)
	})
	return ok
}

// The index type-checks once the program stops: F5's first stop is not
// slowed by it, and the report has it soon after.
func TestIndexTypeChecksAtTheFirstStop(t *testing.T) {
	r := indexRig(t, time.Hour)
	// Unheld, ledger's index is in the report in well under a second.
	if indexed(r, 3*time.Second) {
		t.Fatal("the index joined the report before the program stopped")
	}
	if err := r.bw.Write([]byte(`{"seq":900,"type":"event","event":"stopped","body":{"reason":"breakpoint","threadId":1}}`)); err != nil {
		t.Fatal(err)
	}
	if !indexed(r, 2*time.Minute) {
		t.Fatal("the index did not join the report after the program stopped")
	}
}

// A program that runs without stopping gets its index after indexRunHead.
func TestIndexTypeChecksAfterARunningStart(t *testing.T) {
	r := indexRig(t, 10*time.Millisecond)
	if !indexed(r, 2*time.Minute) {
		t.Fatal("the index did not join the report while the program ran")
	}
}

package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
	"github.com/lockscope/lockscope/internal/usercode"
)

// TestDotlessModuleIsTheUsersCode: testdata/ledgerdemo is `module
// ledgerdemo`, with its hot lock in package ledgerdemo/store. The pipeline
// learns the module from the go command, and the trace's hotspots and
// chains on that lock stay in the report (the import-path rule took
// "ledgerdemo/store" for the standard library and dropped them all).
func TestDotlessModuleIsTheUsersCode(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledgerdemo")
	bin := testutil.BuildTestdata(t, "ledgerdemo")
	trace := bin + ".trace"
	testutil.RunTestdata(t, bin, "-trace", trace)

	p := New()
	defer p.Close()
	p.LearnUserCode(dir)
	code := p.UserCode()
	if len(code.Modules) != 1 || code.Modules[0].Path != "ledgerdemo" || code.Modules[0].Dir != dir || code.GOROOT == "" {
		t.Fatalf("UserCode = %+v: want the module ledgerdemo in %s, and a GOROOT", code, dir)
	}
	part, err := p.LoadFile(context.Background(), trace, "")
	if err != nil {
		t.Fatal(err)
	}
	p.Add(part)
	r := p.Build()

	storeFile := filepath.Join(dir, "store", "store.go")
	lock := testutil.MarkerLine(t, storeFile, "store-lock")
	const fn = "ledgerdemo/store.(*Store).Deposit"
	var blocked bool
	for _, h := range r.Hotspots {
		if h.Kind == contention.KindTraceBlocked && h.Function == fn && h.Line == lock && h.Lock {
			blocked = true
		}
	}
	if !blocked {
		t.Errorf("no trace-blocked lock hotspot at %s:%d (%s); hotspots: %+v", storeFile, lock, fn, r.Hotspots)
	}
	var chained bool
	for _, c := range r.Chains {
		chained = chained || c.Lock && c.Links[0].Function == fn && c.Links[0].Line == lock
	}
	if !chained {
		t.Errorf("no lock chain from %s:%d; chains: %+v", storeFile, lock, r.Chains)
	}
}

// TestParseModules reads `go list -m -json` as a workspace prints it: one
// object per module; the loose-files pseudo-module is no module.
func TestParseModules(t *testing.T) {
	out := []byte(`{"Path": "ledgerdemo", "Main": true, "Dir": "/w/ledgerdemo", "GoMod": "/w/ledgerdemo/go.mod"}
{"Path": "example.com/tools", "Main": true, "Dir": "/w/tools"}
{"Path": "command-line-arguments", "Main": true}
`)
	got, err := parseModules(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []usercode.Module{{Path: "ledgerdemo", Dir: "/w/ledgerdemo"}, {Path: "example.com/tools", Dir: "/w/tools"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("parseModules = %+v, want %+v", got, want)
	}
	if _, err := parseModules([]byte("{")); err == nil {
		t.Errorf("no error on a cut object")
	}
}

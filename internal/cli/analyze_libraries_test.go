package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// TestAnalyzeIndexesHotLibrary: `lockscope analyze` on testdata/lrushop,
// whose hot lock is inside golang-lru, reports the library's map writes
// under that lock as contended, and each lock hotspot in the library with
// the main module's call site.
func TestAnalyzeIndexesHotLibrary(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "lrushop")
	bin := testutil.BuildTestdata(t, "lrushop")
	prof := bin + ".block"
	testutil.RunTestdata(t, bin, "-d", "300ms", "-blockprofile", prof)
	var stdout, stderr bytes.Buffer
	if code := Analyze([]string{"--json", "--block", prof, dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var r contention.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	inLRU := func(file string) bool { return strings.Contains(file, "golang-lru/v2@v2.0.7/") }
	contended := 0
	for _, w := range r.MapWrites {
		if inLRU(w.File) && w.Contended {
			contended++
		}
	}
	if contended == 0 {
		t.Errorf("no contended map write of golang-lru; writes: %+v\nstderr: %s", r.MapWrites, stderr.String())
	}
	for _, h := range r.Hotspots {
		if h.Lock && inLRU(h.File) && (h.CallSite == nil || filepath.Base(h.CallSite.File) != "main.go") {
			t.Errorf("hotspot %s:%d has call site %+v, want lrushop's main.go", h.File, h.Line, h.CallSite)
		}
	}
}

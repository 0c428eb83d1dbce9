package mapwrites

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/profiles"
	"github.com/lockscope/lockscope/internal/recipes"
	"github.com/lockscope/lockscope/internal/testutil"
)

// lruPatterns are the packages of testdata/lrucache that the tests index:
// the program and the two caches of github.com/hashicorp/golang-lru/v2 it
// uses (with simplelru, which lru.Cache wraps), fetched by the go command
// through the module proxy at the version pinned in its go.mod and go.sum.
var lruPatterns = []string{
	".",
	"github.com/hashicorp/golang-lru/v2",
	"github.com/hashicorp/golang-lru/v2/simplelru",
	"github.com/hashicorp/golang-lru/v2/expirable",
}

// loadLRU indexes testdata/lrucache with the golang-lru packages, once per
// test binary.
func loadLRU(t testing.TB) *Index {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if ix := loaded["lrucache+lru"]; ix != nil {
		return ix
	}
	ix, err := Load(filepath.Join(testutil.ModuleRoot(t), "testdata", "lrucache"), lruPatterns, nil)
	if err != nil {
		t.Fatalf("Load(lrucache): %v", err)
	}
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	loaded["lrucache+lru"] = ix
	return ix
}

// lruWrite finds the one write of the golang-lru file (relative to the
// module) in the function whose name ends with fn, writing m.
func lruWrite(t *testing.T, ix *Index, file, fn, m string) contention.MapWrite {
	t.Helper()
	var out []contention.MapWrite
	for _, w := range ix.Writes() {
		if strings.HasSuffix(w.File, "golang-lru/v2@v2.0.7/"+file) && strings.HasSuffix(w.Function, fn) && w.Map == m {
			out = append(out, w)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d writes of %s in %s (%s), want 1", len(out), m, fn, file)
	}
	return out[0]
}

// TestLRUCacheHelpers: in a real LRU cache library, the helpers the
// library documents as "Has to be called with lock!" (expirable's
// removeElement, addToBucket, removeFromBucket, reached through
// removeOldest), and the non-thread-safe simplelru that lru.Cache wraps
// under its own lock, are guarded: no write of the library is unguarded.
func TestLRUCacheHelpers(t *testing.T) {
	ix := loadLRU(t)
	for _, w := range ix.Writes() {
		if w.Unguarded {
			t.Errorf("%s:%d %s (%s) unguarded; via %q", w.File, w.Line, w.Map, w.Function, sitesAt(w.UnguardedVia))
		}
	}
	for _, tc := range []struct {
		file, fn, m, guard, eval string
		via                      []string
	}{
		{"expirable/expirable_lru.go", ".removeElement", "c.items", "c.mu", "c.mu", []string{").Add", ").deleteExpired"}},
		{"expirable/expirable_lru.go", ".addToBucket", "c.buckets[bucketID].entries", "c.mu", "c.mu", []string{").Add"}},
		{"expirable/expirable_lru.go", ".removeFromBucket", "c.buckets[e.ExpireBucket].entries", "c.mu", "c.mu", []string{").Add", ").deleteExpired"}},
		// lru.Cache.Add holds c.lock while c.lru.Add runs: the helper
		// cannot name it, and Delve cannot evaluate it in its frame.
		{"simplelru/lru.go", ".Add", "c.items", "c.lock", "", []string{"v2.(*Cache[...]).Add"}},
		{"simplelru/lru.go", ".removeElement", "c.items", "c.lock", "", []string{"v2.(*Cache[...]).Add"}},
	} {
		w := lruWrite(t, ix, tc.file, tc.fn, tc.m)
		if w.Guard != tc.guard || w.GuardEval != tc.eval {
			t.Errorf("%s %s: guard %q eval %q, want %q %q", tc.fn, tc.m, w.Guard, w.GuardEval, tc.guard, tc.eval)
		}
		for _, fn := range tc.via {
			found := false
			for _, s := range w.GuardedVia {
				found = found || strings.HasSuffix(s.Function, fn)
			}
			if !found {
				t.Errorf("%s %s: guardedVia %q, want a call in ...%s", tc.fn, tc.m, sitesAt(w.GuardedVia), fn)
			}
		}
	}
}

// lruProfiles builds and runs testdata/lrucache for a second and returns
// the hotspots of the mutex and block profiles the runtime wrote, with
// deferred Unlocks moved back to their defer lines as the report does.
func lruProfiles(t *testing.T) []contention.Hotspot {
	t.Helper()
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "lrucache")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "lrucache")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mp, bp := filepath.Join(tmp, "mutex.pb.gz"), filepath.Join(tmp, "block.pb.gz")
	if out, err := exec.Command(bin, "-d", "1s", "-mutexprofile", mp, "-blockprofile", bp).CombinedOutput(); err != nil {
		t.Fatalf("lrucache: %v\n%s", err, out)
	}
	var hs []contention.Hotspot
	for _, p := range []string{mp, bp} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := profiles.AnalyzeBytes(context.Background(), data, p, "")
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		hs = append(hs, r.Hotspots...)
	}
	hs, _ = profiles.AttributeDefers(hs, os.ReadFile)
	return hs
}

// TestLRUCacheContended: with the runtime's own profiles of a program
// that hammers Add and Get of two real LRU caches, the writes on the paths
// that waited (Add's and the helpers it calls with the lock held) are
// contended, ranked by what was seen there, and the writes of methods the
// program never calls (Purge) under the same lock are "same lock, not seen
// contended", with no breakpoint.
func TestLRUCacheContended(t *testing.T) {
	ix := loadLRU(t)
	hot := lruProfiles(t)
	out := Join(ix.Writes(), ix.LockSites(), hot, JoinOptions{})
	find := func(file, fn, m string) contention.MapWrite {
		w := lruWrite(t, ix, file, fn, m)
		for _, o := range out {
			if o.File == w.File && o.Line == w.Line {
				return o
			}
		}
		t.Fatalf("Join lost %s:%d", w.File, w.Line)
		return w
	}
	for _, w := range out {
		t.Logf("%s:%d %s contended=%v sameLockOnly=%v waitNs=%d", filepath.Base(w.File), w.Line, w.Map, w.Contended, w.SameLockOnly, w.WaitNs)
	}
	for _, c := range []struct{ file, fn, m string }{
		{"expirable/expirable_lru.go", ").Add", "c.items"},
		{"expirable/expirable_lru.go", ".addToBucket", "c.buckets[bucketID].entries"},
		{"expirable/expirable_lru.go", ".removeElement", "c.items"},
		{"simplelru/lru.go", ".Add", "c.items"},
		{"simplelru/lru.go", ".removeElement", "c.items"},
	} {
		if w := find(c.file, c.fn, c.m); !w.Contended || w.SameLockOnly || w.WaitNs <= 0 {
			t.Errorf("%s %s: contended=%v sameLockOnly=%v waitNs=%d, want contended", c.fn, c.m, w.Contended, w.SameLockOnly, w.WaitNs)
		}
	}
	for _, c := range []struct{ file, fn, m string }{
		{"expirable/expirable_lru.go", ").Purge", "c.items"},
		{"expirable/expirable_lru.go", ").Purge", "b.entries"},
	} {
		if w := find(c.file, c.fn, c.m); w.Contended || !w.SameLockOnly || w.WaitNs != 0 {
			t.Errorf("%s %s (never called): contended=%v sameLockOnly=%v waitNs=%d, want same lock only", c.fn, c.m, w.Contended, w.SameLockOnly, w.WaitNs)
		}
	}
	// Breakpoints go to the contended and the unguarded writes only.
	bps, _, err := recipes.Suggest(out, runtime.Version())
	if err != nil {
		t.Fatal(err)
	}
	for _, bp := range bps {
		for _, w := range out {
			if bp.ForWrite == fmt.Sprintf("%s:%d", w.File, w.Line) && w.SameLockOnly {
				t.Errorf("breakpoint %s for a write not seen contended", bp.ForWrite)
			}
		}
	}
}

package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/testutil"
)

// TestIndexLibraries: testdata/lrushop's hot lock is inside
// github.com/hashicorp/golang-lru/v2 (pinned in its go.mod). Once that is
// known, the library's map writes under the lock are indexed, flagged
// contended, and given a breakpoint (or the reason there is none), as the
// user's own would be.
func TestIndexLibraries(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "lrushop")
	bin := testutil.BuildTestdata(t, "lrushop")
	prof := bin + ".block"
	// The writes are contended when goroutines waited at the lock in
	// Cache.Add, not only in Cache.Get. Add runs on a cache miss, and on a
	// loaded machine a short run once saw no wait there (CI, load 12): run
	// until the profile has one, so that the test checks lockscope and not
	// the scheduler.
	for try := 1; ; try++ {
		testutil.RunTestdata(t, bin, "-d", "500ms", "-blockprofile", prof)
		if waitedIn(t, prof, "github.com/hashicorp/golang-lru/v2.(*Cache[", "]).Add") {
			break
		}
		if try == 5 {
			t.Fatalf("after %d runs, no goroutine of lrushop waited in the cache's Add", try)
		}
		t.Logf("run %d: no wait in the cache's Add; running again", try)
	}

	ctx := context.Background()
	p := New()
	defer p.Close()
	p.SetGoVersion(GoVersionIn(dir))
	p.StartIndex(dir, IndexOptions{}, nil)
	part, err := p.LoadFile(ctx, prof, "block")
	if err != nil {
		t.Fatal(err)
	}
	p.Add(part)
	p.WaitIndex(ctx)
	inLRU := func(file string) bool { return strings.Contains(file, "golang-lru/v2@v2.0.7/") }
	for _, w := range p.Build().MapWrites {
		if inLRU(w.File) {
			t.Fatalf("the library's write %s:%d is indexed before its lock is known to be hot", w.File, w.Line)
		}
	}

	mods, err := p.IndexLibraries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 || mods[0] != "github.com/hashicorp/golang-lru/v2" {
		t.Fatalf("IndexLibraries = %q, want the golang-lru module", mods)
	}
	r := p.Build()
	var contended []string
	for _, w := range r.MapWrites {
		if inLRU(w.File) && w.Contended {
			contended = append(contended, w.File+":"+strconv.Itoa(w.Line))
		}
	}
	if len(contended) == 0 {
		t.Fatalf("no contended map write in golang-lru; writes: %+v", r.MapWrites)
	}
	// The writes sit in simplelru's helpers, called with the lock of the
	// lru.Cache that calls them: a condition at the write cannot read that
	// lock (Delve evaluates it in the write's frame), and the write says so
	// rather than get a breakpoint that would never stop.
	for _, w := range r.MapWrites {
		if !inLRU(w.File) || !w.Contended {
			continue
		}
		has := false
		for _, b := range r.Breakpoints {
			has = has || b.File == w.File && b.Line == w.Line
		}
		if !has && w.NoBreakpoint == "" {
			t.Errorf("contended write %s:%d has neither a breakpoint nor a reason", w.File, w.Line)
		}
	}
	// Once in, the module is not indexed again.
	if again, err := p.IndexLibraries(ctx); err != nil || len(again) != 0 {
		t.Errorf("second IndexLibraries = %q, %v; want nothing to do", again, err)
	}
}

func TestModuleOf(t *testing.T) {
	for _, tc := range []struct{ pkg, file, want string }{
		{"github.com/hashicorp/golang-lru/v2/simplelru", "/root/go/pkg/mod/github.com/hashicorp/golang-lru/v2@v2.0.7/simplelru/lru.go", "github.com/hashicorp/golang-lru/v2"},
		{"github.com/BurntSushi/toml", "/root/go/pkg/mod/github.com/!burnt!sushi/toml@v1.3.2/decode.go", "github.com/BurntSushi/toml"},
		{"example.com/lib", "/home/u/lib/lib.go", ""},
	} {
		if got := moduleOf(tc.pkg, tc.file); got != tc.want {
			t.Errorf("moduleOf(%q, %q) = %q, want %q", tc.pkg, tc.file, got, tc.want)
		}
	}
}

// waitedIn reports whether a block profile has a wait whose stack passes
// through a function named prefix…suffix (a generic one is named after
// its shape: (*Cache[go.shape.string,go.shape.int]).Add).
func waitedIn(t *testing.T, file, prefix, suffix string) bool {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sample {
		if s.Value[len(s.Value)-1] == 0 {
			continue
		}
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil && strings.HasPrefix(l.Function.Name, prefix) && strings.HasSuffix(l.Function.Name, suffix) {
					return true
				}
			}
		}
	}
	return false
}

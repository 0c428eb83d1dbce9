package pipeline

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
	testutil.RunTestdata(t, bin, "-d", "300ms", "-blockprofile", prof)

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

package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/mapwrites"
	"github.com/lockscope/lockscope/internal/testutil"
)

// TestMain gives the package's tests a user cache folder of their own:
// they never read or write the user's lockscope caches.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		// This binary is a test's index helper (testHelper).
		os.Exit(ServeIndexHelper(os.Stdin, os.Stdout))
	}
	dir, err := os.MkdirTemp("", "lockscope-pipeline-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The go command keeps its build cache under the user cache folder
	// too (GOCACHE defaults to $XDG_CACHE_HOME/go-build): pinned first, or
	// every go list -export of these tests compiled the standard library
	// again with an empty build cache (the package took 915 s in a clean
	// clone, against 25 s before).
	if os.Getenv("GOCACHE") == "" {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go env GOCACHE:", err)
			os.Exit(1)
		}
		os.Setenv("GOCACHE", strings.TrimSpace(string(out)))
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freshCache points the user cache folder at an empty one, for a test
// that needs the next index to be loaded, not read from the cache.
func freshCache(t *testing.T) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

// indexed runs one StartIndex on dir, as a new F5 does, and returns the
// report's map writes and lock sites, and whether WaitIndexCommands
// returned at once (before any go command could have run).
func indexed(t *testing.T, dir string, o IndexOptions) (*contention.Report, bool) {
	t.Helper()
	p := New()
	defer p.Close()
	p.StartIndex(dir, o, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	quick := p.WaitIndexCommands(ctx)
	cancel()
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up")
	}
	p.Close() // the entry is written once the index is in
	return p.Build(), quick
}

// writeFiles writes files (relative path → content) under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cacheModule writes a program of two packages (main and store) whose
// module replaces example.com/lib with a local folder, and returns the
// program's folder and the library's.
func cacheModule(t *testing.T) (app, lib string) {
	t.Helper()
	root := t.TempDir()
	app, lib = filepath.Join(root, "app"), filepath.Join(root, "lib")
	writeFiles(t, lib, map[string]string{
		"go.mod": "module example.com/lib\n\ngo 1.22\n",
		"lib.go": "package lib\n\n// Table is the library's shared map.\ntype Table map[int]int\n",
	})
	writeFiles(t, app, map[string]string{
		"go.mod": "module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
		"main.go": `package main

import (
	"sync"

	"example.com/app/store"
	"example.com/lib"
)

var (
	mu  sync.Mutex
	top = lib.Table{}
)

func main() {
	mu.Lock()
	top[0] = 1
	mu.Unlock()
	go store.Put("b")
	store.Put("c")
}
`,
		"store/store.go": `package store

import "sync"

var (
	mu    sync.Mutex
	items = map[string]int{}
)

// Put writes under the lock.
func Put(k string) {
	mu.Lock()
	defer mu.Unlock()
	items[k]++
}
`,
		"store/ignored.go":    "//go:build never\n\npackage store\n\nfunc init() { items[\"ignored\"] = 1 }\n",
		"store/store_test.go": "package store\n\nimport \"testing\"\n\nfunc TestPut(t *testing.T) { items[\"t\"] = 1 }\n",
	})
	return app, lib
}

// writeKeys names the writes of a report, to compare what loads found.
func writeKeys(r *contention.Report) string {
	var out []string
	for _, w := range r.MapWrites {
		out = append(out, fmt.Sprintf("%s:%d %s guard=%q", filepath.Base(w.File), w.Line, w.Map, w.Guard))
	}
	return strings.Join(out, "\n")
}

// The second F5 on unchanged code runs no go command at all (go facts and
// index both cached), WaitIndexCommands returns at once, and the report is
// the one the first F5 built.
func TestIndexCacheRunsNoGoCommand(t *testing.T) {
	runs := goLog(t)
	app, _ := cacheModule(t)
	first, _ := indexed(t, app, IndexOptions{GoVersion: true})
	if n := runs(); n < 2 {
		t.Fatalf("first F5: %d go commands ran; the index was not loaded", n)
	}
	if !strings.Contains(writeKeys(first), "store.go") || !strings.Contains(writeKeys(first), "main.go") {
		t.Fatalf("first F5: writes %q, want main's and store's", writeKeys(first))
	}
	second, quick := indexed(t, app, IndexOptions{GoVersion: true})
	if n := runs(); n != 0 {
		t.Errorf("second F5: %d go commands ran, want 0", n)
	}
	if !quick {
		t.Error("second F5: WaitIndexCommands did not return at once")
	}
	if !reflect.DeepEqual(first.MapWrites, second.MapWrites) || !reflect.DeepEqual(first.Notes, second.Notes) {
		t.Errorf("the cached index differs:\nfirst  %q\nsecond %q", writeKeys(first), writeKeys(second))
	}
}

// indexProgram is a program to index and the options to index it with.
type indexProgram struct {
	dir string
	o   IndexOptions
}

// indexPrograms are the programs whose index another way of loading it
// (the cache, the helper) must reproduce field for field: a
// multi-package module with a local replace, a test package, a build tag.
func indexPrograms(t *testing.T) []indexProgram {
	root := testutil.ModuleRoot(t)
	app, _ := cacheModule(t)
	return []indexProgram{
		{filepath.Join(root, "testdata", "ledger"), IndexOptions{}},
		{filepath.Join(root, "testdata", "tagged"), IndexOptions{}},
		{filepath.Join(root, "testdata", "tagged"), IndexOptions{BuildFlags: []string{"-tags=lockscope_extra"}}},
		{filepath.Join(root, "testdata", "xtest"), IndexOptions{Tests: true}},
		{filepath.Join(root, "testdata", "lockedhelpers"), IndexOptions{}},
		{filepath.Join(root, "testdata", "spawners"), IndexOptions{}},
		{app, IndexOptions{}},
		{app, IndexOptions{Tests: true}},
	}
}

// The cache is exactly as good as a fresh load: for the programs the
// pipeline's tests use, a multi-package module with a local replace, a
// test package and a build tag, the index read from the cache equals the
// one loaded, field for field, and so does the report built on it.
func TestIndexCacheEqualsAFreshLoad(t *testing.T) {
	for _, tc := range indexPrograms(t) {
		name := fmt.Sprintf("%s %+v", filepath.Base(tc.dir), tc.o)
		facts, err := goFactsIn(tc.dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, ok := newIndexCache(tc.dir, tc.o, facts)
		if !ok {
			t.Fatalf("%s: not cacheable", name)
		}
		start := time.Now()
		fresh, srcs, err := mapwrites.LoadProgramSources(tc.dir, mapwrites.Options{BuildFlags: tc.o.BuildFlags, Tests: tc.o.Tests})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(fresh.Writes()) == 0 {
			t.Fatalf("%s: no map writes: the comparison proves little", name)
		}
		// The sources are older than the load: stored.
		c.store(fresh, srcs, indexState{}, start)
		cached, _, hit := c.load()
		if !hit {
			t.Fatalf("%s: no entry after store", name)
		}
		if !reflect.DeepEqual(cached, fresh) {
			t.Errorf("%s: the cached index differs from the fresh one", name)
		}
		// The report a pipeline builds on each.
		reports := make([]*contention.Report, 2)
		for i, ix := range []*mapwrites.Index{fresh, cached} {
			p := New()
			p.b.SetIndex(ix, contention.Source{Path: tc.dir, Origin: contention.OriginSource})
			reports[i] = p.Build()
			for j := range reports[i].Sources {
				reports[i].Sources[j].Time = time.Time{} // when SetIndex ran
			}
		}
		if !reflect.DeepEqual(reports[0], reports[1]) {
			a, _ := json.Marshal(reports[0])
			b, _ := json.Marshal(reports[1])
			t.Errorf("%s: the report on the cached index differs:\nfresh  %s\ncached %s", name, a, b)
		}
	}
}

// setMtime gives path the modification time it had.
func setMtime(t *testing.T, path string, fi os.FileInfo) {
	t.Helper()
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// Every change the index depends on is a miss, whose fresh load is then
// cached; a change it does not depend on is not.
func TestIndexCacheInvalidation(t *testing.T) {
	runs := goLog(t)
	app, lib := cacheModule(t)
	o := IndexOptions{}
	// f5 presses F5: it wants a miss (go commands ran) or a hit, and
	// checks that the report equals a fresh load's.
	f5 := func(step string, o IndexOptions, wantMiss bool) *contention.Report {
		t.Helper()
		r, _ := indexed(t, app, o)
		n := runs()
		if wantMiss && n == 0 {
			t.Errorf("%s: the cache was used", step)
		}
		if !wantMiss && n != 0 {
			t.Errorf("%s: %d go commands ran, want a cache hit", step, n)
		}
		return r
	}
	// change makes a change, then wants a miss that sees it, and a hit on
	// the next F5.
	change := func(step string, do func(), want func(*contention.Report) bool) {
		t.Helper()
		do()
		r := f5(step, o, true)
		if want != nil && !want(r) {
			t.Errorf("%s: the fresh load did not see the change: writes %q", step, writeKeys(r))
		}
		f5(step+", again", o, false)
	}
	has := func(s string) func(*contention.Report) bool {
		return func(r *contention.Report) bool { return strings.Contains(writeKeys(r), s) }
	}
	hasNot := func(s string) func(*contention.Report) bool {
		return func(r *contention.Report) bool { return !strings.Contains(writeKeys(r), s) }
	}
	f5("first", o, true)
	f5("second", o, false)

	store := filepath.Join(app, "store", "store.go")
	change("an edit of the same size, with the time put back", func() {
		fi, err := os.Stat(store)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(store)
		b = []byte(strings.Replace(string(b), "items[k]++", "items[k]=0", 1))
		if err := os.WriteFile(store, b, 0o644); err != nil {
			t.Fatal(err)
		}
		setMtime(t, store, fi)
	}, func(r *contention.Report) bool {
		for _, w := range r.MapWrites {
			if w.Op == contention.OpAssign && strings.HasSuffix(w.File, "store.go") {
				return true
			}
		}
		return false
	})
	extra := filepath.Join(app, "store", "extra.go")
	change("a file added to a package", func() {
		writeFiles(t, app, map[string]string{"store/extra.go": "package store\n\nfunc Extra() { extraMap[1] = 1 }\n\nvar extraMap = map[int]int{}\n"})
	}, has("extra.go"))
	change("a file removed", func() {
		if err := os.Remove(extra); err != nil {
			t.Fatal(err)
		}
	}, hasNot("extra.go"))
	change("an import of a new local package", func() {
		writeFiles(t, app, map[string]string{"fresh/fresh.go": "package fresh\n\nvar M = map[int]int{}\n\nfunc Set() { M[1] = 2 }\n"})
		main := filepath.Join(app, "main.go")
		b, _ := os.ReadFile(main)
		b = []byte(strings.Replace(string(b), `"example.com/app/store"`, `"example.com/app/fresh"
	"example.com/app/store"`, 1))
		b = []byte(strings.Replace(string(b), "store.Put(\"c\")", "store.Put(\"c\")\n\tfresh.Set()", 1))
		if err := os.WriteFile(main, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}, has("fresh.go"))
	change("a file of the local replace target", func() {
		// lib.Table stops being a map: main's write of top is gone.
		writeFiles(t, lib, map[string]string{"lib.go": "package lib\n\n// Table is no map now.\ntype Table []int\n"})
	}, hasNot("top"))
	change("a file left out by a build constraint", func() {
		ignored := filepath.Join(app, "store", "ignored.go")
		fi, _ := os.Stat(ignored)
		writeFiles(t, app, map[string]string{"store/ignored.go": "//go:build !never\n\npackage store\n\nfunc init() { items[\"ignored\"] = 1 }\n"})
		setMtime(t, ignored, fi)
	}, has("ignored.go"))
	change("go.mod", func() {
		gomod := filepath.Join(app, "go.mod")
		b, _ := os.ReadFile(gomod)
		if err := os.WriteFile(gomod, append(b, "\n// a comment\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
	}, nil)

	// A test file is watched when the tests are indexed, not otherwise.
	writeFiles(t, app, map[string]string{"store/store_test.go": "package store\n\nimport \"testing\"\n\nfunc TestPut(t *testing.T) { items[\"u\"] = 2 }\n"})
	f5("a test file changed, without tests", o, false)

	// Options and environment are part of the key.
	f5("with a build tag", IndexOptions{BuildFlags: []string{"-tags=x"}}, true)
	f5("with the build tag again", IndexOptions{BuildFlags: []string{"-tags=x"}}, false)
	f5("without it: its own entry", o, false)
	f5("with tests", IndexOptions{Tests: true}, true)
	f5("with tests again", IndexOptions{Tests: true}, false)
	writeFiles(t, app, map[string]string{"store/store_test.go": "package store\n\nimport \"testing\"\n\nfunc TestPut(t *testing.T) { items[\"v\"] = 3 }\n"})
	f5("a test file changed, with tests", IndexOptions{Tests: true}, true)
	for _, env := range []struct{ k, v string }{{"GOFLAGS", "-mod=mod"}, {"CGO_ENABLED", "0"}} {
		orig, set := os.LookupEnv(env.k)
		t.Setenv(env.k, env.v)
		f5("with "+env.k+"="+env.v, o, true)
		f5("with "+env.k+"="+env.v+" again", o, false)
		if set {
			os.Setenv(env.k, orig)
		} else {
			os.Unsetenv(env.k)
		}
		// One entry per folder and options: the other environment's
		// replaced it.
		f5("without "+env.k+"="+env.v, o, true)
		f5("without "+env.k+"="+env.v+" again", o, false)
	}
}

// indexEntryPath is the entry file of dir's index with options o.
func indexEntryPath(t *testing.T, dir string, o IndexOptions) string {
	t.Helper()
	facts, err := goFactsIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := newIndexCache(dir, o, facts)
	if !ok {
		t.Fatal("not cacheable")
	}
	return c.path
}

// An entry that cannot be read as one, or does not hold together, is a
// miss: the program is loaded, with no error, and a good entry replaces
// it.
func TestIndexCacheIgnoresABadEntry(t *testing.T) {
	runs := goLog(t)
	app, _ := cacheModule(t)
	want, _ := indexed(t, app, IndexOptions{})
	runs()
	path := indexEntryPath(t, app, IndexOptions{})
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no entry after the first load: %v", err)
	}
	manifest, index, _ := strings.Cut(string(good), "\n")
	gomod := filepath.Join(app, "go.mod")
	for name, bad := range map[string]string{
		"empty":                "",
		"garbage":              "\x00\xffnot json",
		"cut short":            string(good[:len(good)/2]),
		"the manifest only":    manifest,
		"the index cut short":  manifest + "\n" + index[:len(index)/2],
		"another index format": manifest + "\n" + strings.Replace(index, `"format":1,`, `"format":0,`, 1),
		"another key":          strings.Replace(manifest, `"key":"`, `"key":"0`, 1) + "\n" + index,
		"another folder":       strings.Replace(manifest, `"dir":"`+app, `"dir":"`+app+"x", 1) + "\n" + index,
		// Every file it watches reads the same, but go.mod is not
		// among them.
		"go.mod not watched": strings.Replace(manifest, `"`+gomod+`":`, `"`+gomod+`.x":"",".":`, 1) + "\n" + index,
	} {
		if bad == string(good) {
			t.Fatalf("%s: the entry was not changed", name)
		}
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		got, _ := indexed(t, app, IndexOptions{})
		if writeKeys(got) != writeKeys(want) || len(got.Notes) != 0 {
			t.Errorf("%s: writes %q, notes %q; want %q", name, writeKeys(got), got.Notes, writeKeys(want))
		}
		if n := runs(); n == 0 {
			t.Errorf("%s: the entry was used", name)
		}
		indexed(t, app, IndexOptions{})
		if n := runs(); n != 0 {
			t.Errorf("%s: the entry was not replaced: %d go commands ran on the next F5", name, n)
		}
	}
	// Entries of another cache version are not this one's: nothing reads
	// them, and they do not stand in for this version's.
	old := filepath.Join(filepath.Dir(filepath.Dir(path)), "index-0", filepath.Base(path))
	writeFiles(t, "/", map[string]string{old: string(good)})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	indexed(t, app, IndexOptions{})
	if n := runs(); n == 0 {
		t.Error("another cache version's entry was used")
	}
}

// A load that failed, had errors, or was cancelled is never stored.
func TestIndexCacheStoresOnlyGoodLoads(t *testing.T) {
	runs := goLog(t)
	app, _ := cacheModule(t)
	path := indexEntryPath(t, app, IndexOptions{})

	// Cancelled: the pipeline closed before the held index was resumed.
	p := New()
	p.StartIndex(app, IndexOptions{HoldTypeCheck: true}, nil)
	p.WaitIndexCommands(context.Background())
	p.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a cancelled load was stored: %v", err)
	}

	// A package that does not type-check: indexed as far as it goes, but
	// not stored (what failed may not fail next time).
	writeFiles(t, app, map[string]string{"store/broken.go": "package store\n\nvar broken int = \"not an int\"\n"})
	runs()
	for i := range 2 {
		r, _ := indexed(t, app, IndexOptions{})
		if !strings.Contains(writeKeys(r), "store.go") {
			t.Fatalf("F5 %d: writes %q: the rest of the program was not indexed", i+1, writeKeys(r))
		}
		if n := runs(); n == 0 {
			t.Errorf("F5 %d: a load with errors was read from the cache", i+1)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a load with errors was stored: %v", err)
	}

	// A go.mod the go command cannot read: no facts, no load, no entry.
	if err := os.Remove(filepath.Join(app, "store", "broken.go")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, app, map[string]string{"go.mod": "this is not a go.mod\n"})
	indexed(t, app, IndexOptions{})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed load was stored: %v", err)
	}
}

// An edit made while the index loads is not claimed by the entry: the
// load read the file before it, so the next F5 loads again, and sees it.
func TestIndexCacheEditDuringTheLoad(t *testing.T) {
	runs := goLog(t)
	app, _ := cacheModule(t)
	store := filepath.Join(app, "store", "store.go")
	p := New()
	p.StartIndex(app, IndexOptions{}, func() {
		// The index is loaded (from the file as it was) and not stored
		// yet: save an edit now.
		b, _ := os.ReadFile(store)
		if err := os.WriteFile(store, []byte(strings.Replace(string(b), "items[k]++", "items[k]=0", 1)), 0o644); err != nil {
			t.Error(err)
		}
	})
	p.WaitIndex(context.Background())
	p.Close()
	if r := p.Build(); !strings.Contains(writeKeys(r), "store.go") {
		t.Fatalf("writes %q: the load failed", writeKeys(r))
	}
	runs()
	r, _ := indexed(t, app, IndexOptions{})
	if n := runs(); n == 0 {
		t.Error("the entry claims the edit made during the load")
	}
	edited := false
	for _, w := range r.MapWrites {
		edited = edited || (filepath.Base(w.File) == "store.go" && w.Op == contention.OpAssign)
	}
	if !edited {
		t.Errorf("the next F5 does not see the edit: %+v", r.MapWrites)
	}
}

// BenchmarkIndexCacheHit measures what a second F5 spends on the index:
// the manifest's check (hashing the user's files and listing their
// folders) and the whole hit (the check and decoding the index), on
// testdata/ledger, and on the module in LOCKSCOPE_INDEXCACHE_DIR when set
// (a writable copy of gopls, say: the module cache's files are not
// hashed).
func BenchmarkIndexCacheHit(b *testing.B) {
	dirs := []string{filepath.Join(testutil.ModuleRoot(b), "testdata", "ledger")}
	if d := os.Getenv("LOCKSCOPE_INDEXCACHE_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		facts, err := goFactsIn(dir)
		if err != nil {
			b.Fatal(err)
		}
		c, ok := newIndexCache(dir, IndexOptions{}, facts)
		if !ok {
			b.Fatal("not cacheable")
		}
		start := time.Now()
		ix, srcs, err := mapwrites.LoadProgramSources(dir, mapwrites.Options{})
		if err != nil {
			b.Fatal(err)
		}
		c.store(ix, srcs, indexState{}, start)
		raw, err := os.ReadFile(c.path)
		if err != nil {
			b.Fatalf("%s: not stored: %v", dir, err)
		}
		line, _, _ := strings.Cut(string(raw), "\n")
		var m indexManifest
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %d files, %d folders watched; entry %d bytes", filepath.Base(dir), len(m.Files), len(m.Dirs), len(raw))
		files, folders := slices.Collect(maps.Keys(m.Files)), slices.Collect(maps.Keys(m.Dirs))
		b.Run(filepath.Base(dir)+"/check", func(b *testing.B) {
			for b.Loop() {
				if !sameHashes(m.Files, contentHashes(files)) || !sameHashes(m.Dirs, listingHashes(folders)) {
					b.Fatal("the manifest does not hold")
				}
			}
		})
		b.Run(filepath.Base(dir)+"/hit", func(b *testing.B) {
			for b.Loop() {
				if _, _, hit := c.load(); !hit {
					b.Fatal("miss")
				}
			}
		})
	}
}

// A cached index is held like a loaded one (IndexOptions.HoldTypeCheck):
// WaitIndexCommands returns at once, and the index joins the report only
// once resumed, with the writes a load finds.
func TestCachedIndexIsHeldUntilResumed(t *testing.T) {
	app, _ := cacheModule(t)
	want, _ := indexed(t, app, IndexOptions{})
	p := New()
	defer p.Close()
	p.StartIndex(app, IndexOptions{HoldTypeCheck: true}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if !p.WaitIndexCommands(ctx) {
		t.Fatal("WaitIndexCommands did not return at once")
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if p.WaitIndex(ctx) || len(p.Build().MapWrites) != 0 {
		t.Fatal("the cached index joined the report while held")
	}
	p.ResumeIndex()
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up after ResumeIndex")
	}
	if got := p.Build(); writeKeys(got) != writeKeys(want) {
		t.Errorf("writes %q, want %q", writeKeys(got), writeKeys(want))
	}
}

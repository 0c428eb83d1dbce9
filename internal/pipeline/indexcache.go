package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/mapwrites"
)

// indexCacheVersion names the source index cache's folder (see
// cacheEntryPath). The encoded index has a version of its own, checked
// when it is read.
const indexCacheVersion = "index-1"

// indexCache is the disk cache of a program's source index, so that a
// second F5 on unchanged code runs no go command for the index and has it
// at once: on two cores, the index's go commands (its own `go list -deps`
// and go/packages' queries, -export included) took CPU from Delve's build
// on every F5.
//
// An entry is kept per folder and options (build flags, Tests, the
// libraries indexed), in os.UserCacheDir()/lockscope/index-1/. It holds
// for the same go command and environment (goToolKey) and go facts, and
// only while the sources the load read are unchanged, which its manifest
// records at store time from the load itself: for every package of the
// import closure outside GOROOT and the module cache (the main module,
// workspace modules, local replace targets, vendor/), its folder's
// listing and the content hash of each Go file in it (test files when
// Tests), with the go.mod, go.sum and go.work.sum of its module and the
// files the go facts depend on (gofacts.go). Files in GOROOT and the
// module cache are named by version (GOROOT's VERSION and go.sum are
// watched) and never change.
//
// An unreadable or malformed entry, another lockscope cache version, or
// any difference is a miss: the program is loaded again and the entry
// rewritten. A failed or cancelled load, or one in which a package had
// errors (a dependency not downloaded yet could be there next time), is
// never stored, nor is one whose sources may have changed while it ran.
type indexCache struct {
	dir  string // the program's folder, absolute
	key  string // the go command, its environment, the options and the facts
	path string // the entry's file
	// facts are the go facts the load runs under.
	facts goFacts
	// inputs are the files the go facts depend on.
	inputs []string
	// withTests is IndexOptions.Tests.
	withTests bool
	// releaseGOROOT is true when GOROOT is a release (it has a VERSION
	// file, watched through the go facts): a development GOROOT's
	// sources change under one version, and are watched like the user's.
	releaseGOROOT bool
}

// indexManifest is what an entry's index depends on.
type indexManifest struct {
	Dir string `json:"dir"`
	Key string `json:"key"`
	// Files maps each watched file to its content hash ("" when absent).
	Files map[string]string `json:"files"`
	// Dirs maps each watched folder to the hash of its listing.
	Dirs map[string]string `json:"dirs"`
}

// An entry's file is the manifest as one line of JSON, then the encoded
// index (mapwrites.Index.Encode): the manifest is checked before the
// index is decoded.

// newIndexCache returns the cache of dir's index with options o, or false
// when it cannot be cached: the go command or the cache folder is
// missing, or the go facts are incomplete (a go command failed).
func newIndexCache(dir string, o IndexOptions, facts goFacts) (*indexCache, bool) {
	if !facts.complete() {
		return nil, false
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false
	}
	tool, ok := goToolKey()
	if !ok {
		return nil, false
	}
	gf, ok := newGoFactsCache(abs)
	if !ok {
		return nil, false
	}
	// The options name the entry (one folder is debugged as a program and
	// as a test, with a tag or without); the go command, its environment
	// and the facts are the key it must match.
	opts := fmt.Sprintf("%s\x00%q\x00%v\x00%q", abs, o.BuildFlags, o.Tests, o.Libraries)
	path, ok := cacheEntryPath(indexCacheVersion, opts)
	if !ok {
		return nil, false
	}
	facts.Modules = slices.Clone(facts.Modules)
	fb, err := json.Marshal(facts)
	if err != nil {
		return nil, false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", opts, tool, fb)
	_, err = os.Stat(filepath.Join(facts.GOROOT, "VERSION"))
	return &indexCache{
		dir: abs, key: hex.EncodeToString(h.Sum(nil)), path: path,
		facts: facts, inputs: gf.inputs(facts), withTests: o.Tests, releaseGOROOT: err == nil,
	}, true
}

// indexState is what the sources a stale entry watches read now: the
// hashes to compare with after a load (see store).
type indexState struct {
	files map[string]string
	dirs  map[string]string
}

// load returns the entry's index if it still holds. On a miss, it returns
// what the entry's watched files and folders read now (when the entry was
// for this key), for store.
func (c *indexCache) load() (*mapwrites.Index, indexState, bool) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return nil, indexState{}, false
	}
	line, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return nil, indexState{}, false
	}
	var m indexManifest
	if err := json.Unmarshal(line, &m); err != nil || m.Dir != c.dir || m.Key != c.key || len(m.Files) == 0 {
		return nil, indexState{}, false
	}
	// The entry must watch at least what the go facts depend on (a
	// hand-edited entry could watch less).
	for _, f := range c.inputs {
		if _, ok := m.Files[f]; !ok {
			return nil, indexState{}, false
		}
	}
	now := indexState{files: contentHashes(slices.Collect(maps.Keys(m.Files))), dirs: listingHashes(slices.Collect(maps.Keys(m.Dirs)))}
	if !sameHashes(m.Files, now.files) || !sameHashes(m.Dirs, now.dirs) {
		return nil, now, false
	}
	ix, err := mapwrites.DecodeIndex(bytes.NewReader(rest))
	if err != nil {
		return nil, now, false
	}
	return ix, now, true
}

// store writes ix, loaded from srcs, as the entry. The load began at
// start; before is what a stale entry's sources read just before it (from
// load). The entry must not claim content the load did not see: a file
// or folder is recorded only if it reads as it did before the load, or
// was last changed before the load began.
func (c *indexCache) store(ix *mapwrites.Index, srcs []mapwrites.SourcePackage, before indexState, start time.Time) {
	files, dirs, ok := c.manifest(srcs)
	if !ok {
		return
	}
	for f, h := range files {
		if before.files[f] != h && changedSince(f, start) {
			return
		}
	}
	for d, h := range dirs {
		if before.dirs[d] != h && changedSince(d, start) {
			return
		}
	}
	line, err := json.Marshal(indexManifest{Dir: c.dir, Key: c.key, Files: files, Dirs: dirs})
	if err != nil {
		return
	}
	var buf bytes.Buffer
	buf.Write(line)
	buf.WriteByte('\n')
	if err := ix.Encode(&buf); err != nil {
		return
	}
	writeEntry(c.path, buf.Bytes())
}

// manifest hashes what an index loaded from srcs depends on; false when
// it must not be stored.
func (c *indexCache) manifest(srcs []mapwrites.SourcePackage) (files, dirs map[string]string, ok bool) {
	watch := slices.Clone(c.inputs)
	for _, f := range c.inputs {
		if filepath.Base(f) == "go.work" {
			// The workspace's checksums.
			watch = append(watch, f+".sum")
		}
	}
	var folders []string
	modRoots := map[string]bool{}
	for _, sp := range srcs {
		if sp.Failed {
			return nil, nil, false
		}
		if strings.HasSuffix(sp.Path, ".test") {
			// The test main the go command generates from the tests
			// (in its cache): made from files watched already.
			continue
		}
		dir := sp.Dir
		if dir == "" && len(sp.Files) > 0 {
			dir = filepath.Dir(sp.Files[0])
		}
		if dir == "" || c.immutable(dir) {
			continue
		}
		if slices.Contains(folders, dir) {
			continue
		}
		folders = append(folders, dir)
		names, err := listing(dir)
		if err != nil {
			return nil, nil, false
		}
		for _, n := range names {
			if c.watchesFile(n) {
				watch = append(watch, filepath.Join(dir, n))
			}
		}
		// Other files of the package in its folder: cgo's C sources and
		// headers are types too.
		for _, f := range sp.Files {
			if filepath.Dir(f) == dir {
				watch = append(watch, f)
			}
		}
		if root := moduleRoot(dir); root != "" && !modRoots[root] {
			modRoots[root] = true
			// The module's requirements, and its root's listing: a
			// vendor folder appearing there changes where packages
			// come from.
			watch = append(watch, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum"), filepath.Join(root, "go.work.sum"))
			folders = append(folders, root)
		}
	}
	slices.Sort(watch)
	watch = slices.Compact(watch)
	files = contentHashes(watch)
	dirs = listingHashes(folders)
	if !storable(files) || !storable(dirs) {
		return nil, nil, false
	}
	return files, dirs, true
}

// watchesFile reports whether a file of a watched folder is watched: every
// Go file, those left out by build constraints included (a changed
// constraint brings one in), but test files only when the tests are
// indexed (the go command never builds them otherwise).
func (c *indexCache) watchesFile(name string) bool {
	if !strings.HasSuffix(name, ".go") {
		return false
	}
	return c.withTests || !strings.HasSuffix(name, "_test.go")
}

// immutable reports whether dir lies in a release GOROOT or the module
// cache.
func (c *indexCache) immutable(dir string) bool {
	return (c.releaseGOROOT && within(dir, c.facts.GOROOT)) || within(dir, c.facts.GOMODCACHE)
}

// within reports whether path is root or lies under it.
func within(path, root string) bool {
	if root == "" {
		return false
	}
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// moduleRoot is the nearest folder at or above dir with a go.mod ("" when
// none).
func moduleRoot(dir string) string {
	for d := range upFrom(dir) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return ""
}

// listing returns the names in dir, sorted.
func listing(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

// listingHashes hashes each folder's listing ("" when it does not exist,
// unreadable when it cannot be read).
func listingHashes(dirs []string) map[string]string {
	out := make(map[string]string, len(dirs))
	for _, d := range dirs {
		names, err := listing(d)
		switch {
		case err == nil:
			sum := sha256.Sum256([]byte(strings.Join(names, "\x00")))
			out[d] = hex.EncodeToString(sum[:])
		case os.IsNotExist(err):
			out[d] = ""
		default:
			out[d] = unreadable
		}
	}
	return out
}

// changedSince reports whether path may have changed at or after start
// (or cannot be told). A file system that keeps whole seconds only gives
// every time 2 s of doubt.
func changedSince(path string, start time.Time) bool {
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		return true
	}
	mt := st.ModTime()
	if mt.Nanosecond() == 0 {
		mt = mt.Add(2 * time.Second)
	}
	return !mt.Before(start)
}

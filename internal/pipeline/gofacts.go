package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/lockscope/lockscope/internal/usercode"
)

// goFacts is what the go command says about a folder that a user's next F5
// almost never changes: the GOROOT, the Go version that builds there, the
// module cache (whose files never change: the source index's cache
// watches none of them), and the main modules (the user's code, see
// internal/usercode).
type goFacts struct {
	GOROOT     string            `json:"goroot"`
	GoVersion  string            `json:"goVersion"`
	GOMODCACHE string            `json:"gomodcache"`
	Modules    []usercode.Module `json:"modules"`
}

// complete reports whether the go command answered every question.
func (f goFacts) complete() bool {
	return f.GOROOT != "" && f.GoVersion != "" && f.GOMODCACHE != ""
}

// rules returns the user-code rules of the facts.
func (f goFacts) rules() usercode.Rules {
	return usercode.Rules{GOROOT: f.GOROOT, Modules: f.Modules}
}

// goFactsCacheVersion names the cache's folder; a change of the entry's
// format or meaning takes a new one, so an older lockscope's entries are
// never read as this one's.
const goFactsCacheVersion = "gofacts-2"

// goFactsIn returns the go facts of dir. The go commands that learn them
// (`go env GOROOT GOVERSION GOMODCACHE` and `go list -m -json`, together) run before
// the program's build can start, and cost it 60 to 100 ms on every F5, so
// their answer is kept on disk (goFactsCache) and reused for as long as
// nothing it depends on changed. A failed go command is never cached.
func goFactsIn(dir string) (goFacts, error) {
	c, ok := newGoFactsCache(dir)
	if ok {
		if f, hit := c.load(); hit {
			return f, nil
		}
	}
	var before map[string]string
	if ok {
		before = contentHashes(c.inputs(goFacts{}))
	}
	f, err := runGoFacts(dir)
	if err != nil || !ok {
		return f, err
	}
	// Stored only if what was read before the go commands ran is still
	// what they saw: a go.mod saved meanwhile leaves the cache alone.
	files := contentHashes(c.inputs(f))
	for path, h := range before {
		if files[path] != h {
			return f, nil
		}
	}
	c.store(f, files)
	return f, nil
}

// runGoFacts asks the go command, with its two commands at once. A folder
// outside any module has no main module ("command-line-arguments" is the
// go command's name for loose files, not a module): the facts then carry
// no modules.
func runGoFacts(dir string) (goFacts, error) {
	var f goFacts
	var wg sync.WaitGroup
	var envOut []byte
	var envErr error
	wg.Go(func() {
		env := exec.Command("go", "env", "GOROOT", "GOVERSION", "GOMODCACHE")
		env.Dir = dir
		envOut, envErr = env.Output()
	})
	cmd := exec.Command("go", "list", "-m", "-json")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	wg.Wait()
	if envErr == nil {
		lines := strings.Split(strings.TrimSpace(string(envOut)), "\n")
		if len(lines) == 3 {
			f.GOROOT, f.GoVersion, f.GOMODCACHE = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1]), strings.TrimSpace(lines[2])
		}
	}
	if err != nil {
		return f, fmt.Errorf("go list -m in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	mods, err := parseModules(out)
	if err != nil {
		return f, fmt.Errorf("go list -m in %s: %w", dir, err)
	}
	f.Modules = mods
	if envErr != nil || !f.complete() {
		return f, fmt.Errorf("go env GOROOT GOVERSION GOMODCACHE in %s: %v", dir, envErr)
	}
	return f, nil
}

// goFactsCache is the disk cache of one folder's go facts, in
// os.UserCacheDir()/lockscope/gofacts-2/, one JSON file per folder. An
// entry holds for the same go binary and environment (goToolKey), and
// only while every file the facts depend on reads the same (content
// hashes, or absent): the go.mod and go.work of the
// folder and of each folder above it, those of the main modules, the go
// command's own settings file (GOENV), and the GOROOT's VERSION and go.env.
// A file that cannot be read as an entry is a miss, never an error.
type goFactsCache struct {
	dir  string // the program's folder, absolute
	key  string // the go binary and the GO* environment
	path string // the entry's file
}

// goFactsEntry is a cache file's content.
type goFactsEntry struct {
	Dir   string            `json:"dir"`
	Key   string            `json:"key"`
	Files map[string]string `json:"files"` // path → content hash, or "" when absent
	Facts goFacts           `json:"facts"`
}

// newGoFactsCache returns dir's cache, or false when the facts cannot be
// cached safely (goToolKey) or there is no cache folder.
func newGoFactsCache(dir string) (*goFactsCache, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false
	}
	key, ok := goToolKey()
	if !ok {
		return nil, false
	}
	path, ok := cacheEntryPath(goFactsCacheVersion, abs)
	if !ok {
		return nil, false
	}
	return &goFactsCache{dir: abs, key: key, path: path}, true
}

// inputs lists the files facts f depend on (with the zero facts: those
// known before the go command runs).
func (c *goFactsCache) inputs(f goFacts) []string {
	var files []string
	for d := range upFrom(c.dir) {
		files = append(files, filepath.Join(d, "go.mod"), filepath.Join(d, "go.work"))
	}
	if gw := os.Getenv("GOWORK"); gw != "" && gw != "off" && filepath.IsAbs(gw) {
		files = append(files, gw)
	}
	switch ge := os.Getenv("GOENV"); {
	case ge == "off":
	case ge != "":
		files = append(files, ge)
	default:
		if cfg, err := os.UserConfigDir(); err == nil {
			files = append(files, filepath.Join(cfg, "go", "env"))
		}
	}
	for _, m := range f.Modules {
		if m.Dir != "" {
			files = append(files, filepath.Join(m.Dir, "go.mod"))
		}
	}
	if f.GOROOT != "" {
		files = append(files, filepath.Join(f.GOROOT, "VERSION"), filepath.Join(f.GOROOT, "go.env"))
	}
	return files
}

// load returns the cached facts if the entry still holds.
func (c *goFactsCache) load() (goFacts, bool) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return goFacts{}, false
	}
	var e goFactsEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Dir != c.dir || e.Key != c.key || len(e.Files) == 0 {
		return goFacts{}, false
	}
	// The entry must watch at least what these facts depend on (a
	// hand-edited or truncated entry could watch less), and each watched
	// file must read the same.
	for _, f := range c.inputs(e.Facts) {
		if _, ok := e.Files[f]; !ok {
			return goFacts{}, false
		}
	}
	if !sameHashes(e.Files, contentHashes(slices.Collect(maps.Keys(e.Files)))) {
		return goFacts{}, false
	}
	if !e.Facts.complete() {
		return goFacts{}, false
	}
	return e.Facts, true
}

// store writes the entry (diskcache.go's writeEntry).
func (c *goFactsCache) store(f goFacts, files map[string]string) {
	if !storable(files) {
		return
	}
	b, err := json.Marshal(goFactsEntry{Dir: c.dir, Key: c.key, Files: files, Facts: f})
	if err != nil {
		return
	}
	writeEntry(c.path, b)
}

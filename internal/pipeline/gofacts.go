package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
// almost never changes: the GOROOT, the Go version that builds there, and
// the main modules (the user's code, see internal/usercode).
type goFacts struct {
	GOROOT    string            `json:"goroot"`
	GoVersion string            `json:"goVersion"`
	Modules   []usercode.Module `json:"modules"`
}

// rules returns the user-code rules of the facts.
func (f goFacts) rules() usercode.Rules {
	return usercode.Rules{GOROOT: f.GOROOT, Modules: f.Modules}
}

// goFactsCacheVersion names the cache's folder; a change of the entry's
// format or meaning takes a new one, so an older lockscope's entries are
// never read as this one's.
const goFactsCacheVersion = "gofacts-1"

// goFactsIn returns the go facts of dir. The go commands that learn them
// (`go env GOROOT GOVERSION` and `go list -m -json`, together) run before
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
		before = c.hashes(c.inputs(goFacts{}))
	}
	f, err := runGoFacts(dir)
	if err != nil || !ok {
		return f, err
	}
	// Stored only if what was read before the go commands ran is still
	// what they saw: a go.mod saved meanwhile leaves the cache alone.
	files := c.hashes(c.inputs(f))
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
		env := exec.Command("go", "env", "GOROOT", "GOVERSION")
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
		if len(lines) == 2 {
			f.GOROOT, f.GoVersion = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
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
	if envErr != nil || f.GOROOT == "" || f.GoVersion == "" {
		return f, fmt.Errorf("go env GOROOT GOVERSION in %s: %v", dir, envErr)
	}
	return f, nil
}

// goFactsCache is the disk cache of one folder's go facts, in
// os.UserCacheDir()/lockscope/gofacts-1/, one JSON file per folder. An
// entry holds for the same go binary (path, size and time) and the same
// GO* environment, and only while every file the facts depend on reads
// the same (content hashes, or absent): the go.mod and go.work of the
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
// cached safely: no go command on PATH, no cache folder, or a go.mod the
// go command is told to take from elsewhere (-modfile).
func newGoFactsCache(dir string) (*goFactsCache, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, false
	}
	gobin, _ = filepath.Abs(gobin)
	st, err := os.Stat(gobin)
	if err != nil {
		return nil, false
	}
	root, err := os.UserCacheDir()
	if err != nil {
		return nil, false
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GO") {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	if strings.Contains(os.Getenv("GOFLAGS"), "-modfile") {
		return nil, false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s", gobin, st.Size(), st.ModTime().UnixNano(), strings.Join(env, "\x00"))
	name := sha256.Sum256([]byte(abs))
	return &goFactsCache{
		dir:  abs,
		key:  hex.EncodeToString(h.Sum(nil)),
		path: filepath.Join(root, "lockscope", goFactsCacheVersion, hex.EncodeToString(name[:16])+".json"),
	}, true
}

// inputs lists the files facts f depend on (with the zero facts: those
// known before the go command runs).
func (c *goFactsCache) inputs(f goFacts) []string {
	var files []string
	for d := c.dir; ; {
		files = append(files, filepath.Join(d, "go.mod"), filepath.Join(d, "go.work"))
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
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

// hashes reads each file's content hash ("" for a file that does not
// exist, "?" for one that cannot be read, which no entry ever matches).
func (c *goFactsCache) hashes(files []string) map[string]string {
	out := make(map[string]string, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		switch {
		case err == nil:
			sum := sha256.Sum256(b)
			out[f] = hex.EncodeToString(sum[:])
		case os.IsNotExist(err):
			out[f] = ""
		default:
			out[f] = "?"
		}
	}
	return out
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
	now := c.hashes(slices.Collect(maps.Keys(e.Files)))
	for f, h := range e.Files {
		if h == "?" || now[f] != h {
			return goFacts{}, false
		}
	}
	if e.Facts.GOROOT == "" || e.Facts.GoVersion == "" {
		return goFacts{}, false
	}
	return e.Facts, true
}

// store writes the entry, whole or not at all (a concurrent reader sees
// the old file or the new one): a failure only costs the next F5 the go
// commands.
func (c *goFactsCache) store(f goFacts, files map[string]string) {
	for _, h := range files {
		if h == "?" {
			return
		}
	}
	b, err := json.Marshal(goFactsEntry{Dir: c.dir, Key: c.key, Files: files, Facts: f})
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".entry-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), c.path) != nil {
		os.Remove(tmp.Name())
	}
}

// The on-disk form of an Index, for a cache of the source index: a second
// F5 on unchanged code reads the index a first one built instead of
// running the go command and type-checking again (internal/pipeline's
// indexcache.go decides when an entry still holds).
//
// The form is versioned and private: its field names are the cache's own,
// not the report's, so a change to the report's JSON never changes the
// meaning of a cache file and a change here takes a new indexFormat. A
// decoded Index equals the encoded one field for field (nil lists stay
// nil, empty ones empty), so a report built from it is the report a fresh
// load builds.

package mapwrites

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/lockscope/lockscope/internal/contention"
)

// indexFormat is the version of the encoded form; [DecodeIndex] refuses
// any other.
const indexFormat = 1

// wireIndex is an encoded Index. Paths are written once, in Files, and
// named by their position there: an index repeats each file's path on
// every write, site and line.
type wireIndex struct {
	Format   int             `json:"format"`
	Files    []string        `json:"files"`
	Writes   []wireWrite     `json:"writes"`
	Sites    []wireLockSite  `json:"sites"`
	Problems []string        `json:"problems"`
	Held     []wireHeldLines `json:"held"`
	// Locks are the distinct held locks, named by position in Held.
	Locks []wireHeld `json:"locks"`
}

// wireSite is a contention.Site.
type wireSite struct {
	File     int    `json:"f"`
	Line     int    `json:"l"`
	Function string `json:"fn"`
}

// wireWrite is a contention.MapWrite (Base, a comparison's, is never an
// index's: see encoder.write).
type wireWrite struct {
	File               int        `json:"f"`
	Line               int        `json:"l"`
	Function           string     `json:"fn"`
	Map                string     `json:"map"`
	Op                 string     `json:"op"`
	Guard              string     `json:"guard"`
	GuardKind          string     `json:"guardKind"`
	GuardRead          bool       `json:"guardRead"`
	Contended          bool       `json:"contended"`
	WaitNs             int64      `json:"waitNs"`
	Unguarded          bool       `json:"unguarded"`
	Writers            []wireSite `json:"writers"`
	NoBreakpoint       string     `json:"noBreakpoint"`
	MapID              string     `json:"mapId"`
	MapEval            string     `json:"mapEval"`
	GuardID            string     `json:"guardId"`
	GuardEval          string     `json:"guardEval"`
	Waiters            float64    `json:"waiters"`
	GuardedVia         []wireSite `json:"guardedVia"`
	SometimesUnguarded bool       `json:"sometimesUnguarded"`
	UnguardedVia       []wireSite `json:"unguardedVia"`
	SameLockOnly       bool       `json:"sameLockOnly"`
}

// wireLockSite is a LockSite.
type wireLockSite struct {
	File     int    `json:"f"`
	Line     int    `json:"l"`
	Function string `json:"fn"`
	Mutex    string `json:"mutex"`
	MutexID  string `json:"mutexId"`
	Kind     string `json:"kind"`
	Method   string `json:"method"`
	Deferred bool   `json:"deferred"`
}

// wireHeld is a Held; its own type so that the cache's names stay the
// cache's if Held's JSON changes.
type wireHeld struct {
	Mutex    string `json:"mutex"`
	MutexID  string `json:"mutexId"`
	Kind     string `json:"kind"`
	Read     bool   `json:"read"`
	Function string `json:"fn"`
}

// wireHeldLines are the lines of one file in the held map. Most lines of
// a program hold no lock: those are listed in Free, the others in Lines
// with the positions of their locks in wireIndex.Locks.
type wireHeldLines struct {
	File  int     `json:"f"`
	Free  []int   `json:"free"`
	Lines []int   `json:"lines"`
	Locks [][]int `json:"locks"`
	// Nil lists the lines (of Free) whose list is nil rather than empty.
	Nil []int `json:"nil"`
}

// Encode writes the index in its versioned on-disk form.
func (ix *Index) Encode(w io.Writer) error {
	var e encoder
	e.files = map[string]int{}
	out := wireIndex{Format: indexFormat, Problems: ix.problems}
	if ix.writes != nil {
		out.Writes = make([]wireWrite, len(ix.writes))
	}
	for i, mw := range ix.writes {
		ww, err := e.write(mw)
		if err != nil {
			return err
		}
		out.Writes[i] = ww
	}
	if ix.sites != nil {
		out.Sites = make([]wireLockSite, len(ix.sites))
	}
	for i, s := range ix.sites {
		out.Sites[i] = wireLockSite{File: e.file(s.File), Line: s.Line, Function: s.Function,
			Mutex: s.Mutex, MutexID: s.MutexID, Kind: s.Kind, Method: s.Method, Deferred: s.Deferred}
	}
	out.Held, out.Locks = e.held(ix.held)
	if ix.held != nil && out.Held == nil {
		out.Held = []wireHeldLines{}
	}
	out.Files = e.names
	return json.NewEncoder(w).Encode(out)
}

// encoder numbers the files of an index as it meets them.
type encoder struct {
	files map[string]int
	names []string
}

func (e *encoder) file(name string) int {
	if i, ok := e.files[name]; ok {
		return i
	}
	e.files[name] = len(e.names)
	e.names = append(e.names, name)
	return len(e.names) - 1
}

func (e *encoder) sites(ss []contention.Site) []wireSite {
	if ss == nil {
		return nil
	}
	out := make([]wireSite, len(ss))
	for i, s := range ss {
		out[i] = wireSite{File: e.file(s.File), Line: s.Line, Function: s.Function}
	}
	return out
}

// write encodes one map write. Base belongs to a comparison of two
// reports, made after the index: an index that carries one is not what
// Load builds, and is refused rather than cached without it.
func (e *encoder) write(w contention.MapWrite) (wireWrite, error) {
	if w.Base != nil {
		return wireWrite{}, fmt.Errorf("mapwrites: encoding the write at %s:%d: it carries a comparison", w.File, w.Line)
	}
	return wireWrite{
		File: e.file(w.File), Line: w.Line, Function: w.Function, Map: w.Map, Op: w.Op,
		Guard: w.Guard, GuardKind: w.GuardKind, GuardRead: w.GuardRead,
		Contended: w.Contended, WaitNs: w.WaitNs, Unguarded: w.Unguarded,
		Writers: e.sites(w.Writers), NoBreakpoint: w.NoBreakpoint,
		MapID: w.MapID, MapEval: w.MapEval, GuardID: w.GuardID, GuardEval: w.GuardEval,
		Waiters: w.Waiters, GuardedVia: e.sites(w.GuardedVia),
		SometimesUnguarded: w.SometimesUnguarded, UnguardedVia: e.sites(w.UnguardedVia),
		SameLockOnly: w.SameLockOnly,
	}, nil
}

// held encodes the held map file by file, in file and line order (the
// same index always encodes to the same bytes).
func (e *encoder) held(m map[heldKey][]Held) ([]wireHeldLines, []wireHeld) {
	keys := make([]heldKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b heldKey) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		return a.line - b.line
	})
	var out []wireHeldLines
	var locks []wireHeld
	lockNum := map[Held]int{}
	for _, k := range keys {
		f := e.file(k.file)
		if len(out) == 0 || out[len(out)-1].File != f {
			out = append(out, wireHeldLines{File: f})
		}
		hl := &out[len(out)-1]
		hs := m[k]
		if len(hs) == 0 {
			hl.Free = append(hl.Free, k.line)
			if hs == nil {
				hl.Nil = append(hl.Nil, k.line)
			}
			continue
		}
		nums := make([]int, len(hs))
		for i, h := range hs {
			n, ok := lockNum[h]
			if !ok {
				n = len(locks)
				lockNum[h] = n
				locks = append(locks, wireHeld(h))
			}
			nums[i] = n
		}
		hl.Lines = append(hl.Lines, k.line)
		hl.Locks = append(hl.Locks, nums)
	}
	return out, locks
}

// errFormat is a cache file that is not an encoded index of this format.
var errFormat = errors.New("mapwrites: not an encoded index of this version")

// DecodeIndex reads an index written by [Index.Encode]. Input of another
// format version, or that does not hold together (a file or lock number
// out of range, trailing data), is an error: a cache treats it as absent.
func DecodeIndex(r io.Reader) (*Index, error) {
	var in wireIndex
	dec := json.NewDecoder(r)
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%w: %v", errFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the index", errFormat)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the index", errFormat)
	}
	if in.Format != indexFormat {
		return nil, fmt.Errorf("%w: format %d", errFormat, in.Format)
	}
	d := decoder{files: in.Files, bad: -1}
	ix := &Index{problems: in.Problems}
	if in.Writes != nil {
		ix.writes = make([]contention.MapWrite, len(in.Writes))
	}
	for i, w := range in.Writes {
		ix.writes[i] = contention.MapWrite{
			File: d.file(w.File), Line: w.Line, Function: w.Function, Map: w.Map, Op: w.Op,
			Guard: w.Guard, GuardKind: w.GuardKind, GuardRead: w.GuardRead,
			Contended: w.Contended, WaitNs: w.WaitNs, Unguarded: w.Unguarded,
			Writers: d.sites(w.Writers), NoBreakpoint: w.NoBreakpoint,
			MapID: w.MapID, MapEval: w.MapEval, GuardID: w.GuardID, GuardEval: w.GuardEval,
			Waiters: w.Waiters, GuardedVia: d.sites(w.GuardedVia),
			SometimesUnguarded: w.SometimesUnguarded, UnguardedVia: d.sites(w.UnguardedVia),
			SameLockOnly: w.SameLockOnly,
		}
	}
	if in.Sites != nil {
		ix.sites = make([]LockSite, len(in.Sites))
	}
	for i, s := range in.Sites {
		ix.sites[i] = LockSite{File: d.file(s.File), Line: s.Line, Function: s.Function,
			Mutex: s.Mutex, MutexID: s.MutexID, Kind: s.Kind, Method: s.Method, Deferred: s.Deferred}
	}
	if in.Held != nil {
		ix.held = map[heldKey][]Held{}
	}
	for _, hl := range in.Held {
		f := d.file(hl.File)
		nils := map[int]bool{}
		for _, l := range hl.Nil {
			nils[l] = true
		}
		for _, l := range hl.Free {
			var hs []Held
			if !nils[l] {
				hs = []Held{}
			}
			ix.held[heldKey{f, l}] = hs
		}
		if len(hl.Lines) != len(hl.Locks) {
			return nil, fmt.Errorf("%w: %d held lines with %d lock lists", errFormat, len(hl.Lines), len(hl.Locks))
		}
		for i, l := range hl.Lines {
			hs := make([]Held, len(hl.Locks[i]))
			for j, n := range hl.Locks[i] {
				if n < 0 || n >= len(in.Locks) {
					return nil, fmt.Errorf("%w: lock %d of %d", errFormat, n, len(in.Locks))
				}
				hs[j] = Held(in.Locks[n])
			}
			ix.held[heldKey{f, l}] = hs
		}
	}
	if d.bad >= 0 {
		return nil, fmt.Errorf("%w: file %d of %d", errFormat, d.bad, len(in.Files))
	}
	return ix, nil
}

// decoder resolves file numbers, remembering a number out of range (bad,
// -1 while there is none).
type decoder struct {
	files []string
	bad   int
}

func (d *decoder) file(n int) string {
	if n < 0 || n >= len(d.files) {
		d.bad = max(n, len(d.files))
		return ""
	}
	return d.files[n]
}

func (d *decoder) sites(ws []wireSite) []contention.Site {
	if ws == nil {
		return nil
	}
	out := make([]contention.Site, len(ws))
	for i, s := range ws {
		out[i] = contention.Site{File: d.file(s.File), Line: s.Line, Function: s.Function}
	}
	return out
}

// SourcePackage is one package a load read, for a cache to tell when its
// index no longer holds: every package of the import closure, the
// standard library's and other modules' included (the caller knows which
// of them can change).
type SourcePackage struct {
	// Path is the package's import path; Dir its folder (empty when the
	// go command gave none).
	Path string
	Dir  string
	// Files are the package's files that the go command named: Go files
	// compiled or left out by build constraints, and other files (cgo,
	// assembly).
	Files []string
	// Failed is true when the package had errors: the go command could
	// not list it, or it did not parse or type-check.
	Failed bool
}

// LoadProgramSources is [LoadProgram] that also returns the packages the
// load read, in import path order.
func LoadProgramSources(dir string, o Options) (*Index, []SourcePackage, error) {
	patterns, err := programPackages(dir, o)
	if err != nil {
		return nil, nil, err
	}
	fset, pkgs, err := loadPackages(dir, patterns, o)
	if err != nil {
		return nil, nil, err
	}
	return build(fset, pkgs), sourcesOf(pkgs), nil
}

// sourcesOf lists the packages reachable from the roots.
func sourcesOf(roots []*packages.Package) []SourcePackage {
	var out []SourcePackage
	packages.Visit(roots, nil, func(p *packages.Package) {
		sp := SourcePackage{Path: p.PkgPath, Dir: p.Dir, Failed: len(p.Errors) > 0 || p.IllTyped}
		for _, list := range [][]string{p.GoFiles, p.CompiledGoFiles, p.IgnoredFiles, p.OtherFiles} {
			for _, f := range list {
				if f = filepath.Clean(f); !slices.Contains(sp.Files, f) {
					sp.Files = append(sp.Files, f)
				}
			}
		}
		out = append(out, sp)
	})
	slices.SortStableFunc(out, func(a, b SourcePackage) int { return strings.Compare(a.Path, b.Path) })
	return out
}

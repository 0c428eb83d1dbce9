// Saved captures: the report with the raw profiles and the trace
// summaries it came from, in one zip file that can be read back and
// compared (lockscope analyze --save/--load/--base, lockscope/save).

package pipeline

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lockscope/lockscope/internal/compare"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/report"
)

// CaptureFormat names the zip's manifest format; CaptureVersion is the
// version this lockscope writes and the newest it reads. Raise the
// version only for a change an older reader would misread; new fields do
// not need it.
const (
	CaptureFormat  = "lockscope-capture"
	CaptureVersion = 1
)

// Limits on a capture file read back: it may come from anywhere (a CI
// artifact, a colleague), so a zip bomb or a crafted manifest must get an
// error, not the memory of the machine.
const (
	maxCaptureFile    = 1 << 30   // the zip itself
	maxCaptureEntries = 1024      // files inside it
	maxManifest       = 4 << 20   // manifest.json, uncompressed
	maxReportJSON     = 256 << 20 // report.json and each trace summary, uncompressed
	maxCaptureTotal   = 2 << 30   // every file inside, uncompressed, together
	maxSavedProfile   = 512 << 20 // one profile (capture.MaxFileSize)
)

// keeper holds what a saved capture needs besides the report: the raw
// bytes of the profiles in the report and the summaries of its traces,
// following Add, Replace and Clear exactly as the builder does.
type keeper struct {
	mu sync.Mutex
	// pending are profiles analysed but not yet added, by part; a part
	// that is never added (a cancelled capture) falls out after
	// maxPending newer ones.
	pending  map[*report.Part]keptProfile
	order    []*report.Part
	profiles map[string][]keptProfile // by kind, in the order added
	traces   []report.Summary
}

const maxPending = 8

type keptProfile struct {
	data []byte
	src  contention.Source
}

func (k *keeper) analysed(part *report.Part, data []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pending == nil {
		k.pending = map[*report.Part]keptProfile{}
	}
	src := part.Summary().Source
	k.pending[part] = keptProfile{data: data, src: src}
	k.order = append(k.order, part)
	for len(k.order) > maxPending {
		delete(k.pending, k.order[0])
		k.order = k.order[1:]
	}
}

// added records a part joining the report; replace drops what was kept
// of its kind first, as Builder.Replace does. apply adds the part to the
// builder under the keeper's lock, so that two Replaces of one kind at
// once leave the builder and the keeper with the same one.
func (k *keeper) added(part *report.Part, replace bool, apply func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	apply()
	kind := part.Kind()
	if kind == contention.KindTrace {
		if replace {
			k.traces = nil
		}
		k.traces = append(k.traces, part.Summary())
		return
	}
	if k.profiles == nil {
		k.profiles = map[string][]keptProfile{}
	}
	if replace {
		k.profiles[kind] = nil
	}
	if kp, ok := k.pending[part]; ok {
		delete(k.pending, part)
		k.profiles[kind] = append(k.profiles[kind], kp)
	}
}

func (k *keeper) clear(apply func(...string)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	apply()
	k.profiles = nil
	k.traces = nil
}

// manifest is manifest.json, the capture's table of contents.
type manifest struct {
	Format  string             `json:"format"`
	Version int                `json:"version"`
	Capture contention.Capture `json:"capture"`
	// Profiles are the raw profiles, in the order they were added (for a
	// capture of repeated runs, run 1 first).
	Profiles []savedEntry `json:"profiles"`
	Traces   []savedEntry `json:"traces"`
	// Starts are the first lines of the functions around the report's
	// lines, taken from the source when the capture was saved.
	Starts compare.Starts `json:"starts,omitempty"`
}

type savedEntry struct {
	Name   string            `json:"name"` // the file in the zip
	Kind   string            `json:"kind"`
	Source contention.Source `json:"source"`
}

// Capture is a saved capture read back.
type Capture struct {
	Info contention.Capture
	// Report is the report as it was saved (map writes and breakpoints
	// included, which need the source index to recompute).
	Report   *contention.Report
	Profiles []SavedProfile
	Traces   []report.Summary
	Starts   compare.Starts
	// Path is the file it was read from.
	Path string
}

// SavedProfile is one raw profile of a capture.
type SavedProfile struct {
	Kind   string
	Data   []byte
	Source contention.Source
}

// ProfilesOf returns the capture's raw profiles of one kind, in order
// (one per run for a capture of repeated runs).
func (c *Capture) ProfilesOf(kind string) []SavedProfile {
	var out []SavedProfile
	for _, p := range c.Profiles {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

// Version is this lockscope's version as a capture records it: the
// module version and, for a build from a repository, its commit.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// Save writes the capture to w: r (the report as shown; nil builds one),
// info, and the raw profiles and trace summaries r came from. The
// function starts of r's lines are read from the source now, for a later
// comparison to match lines after the code moves.
func (p *Pipeline) Save(w io.Writer, info contention.Capture, r *contention.Report) error {
	if r == nil {
		r = p.Build()
	}
	p.kept.mu.Lock()
	var profs []savedEntry
	var datas [][]byte
	for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
		for i, kp := range p.kept.profiles[kind] {
			profs = append(profs, savedEntry{Name: fmt.Sprintf("profiles/%s-%d.pb.gz", kind, i+1), Kind: kind, Source: kp.src})
			datas = append(datas, kp.data)
		}
	}
	traces := append([]report.Summary(nil), p.kept.traces...)
	p.kept.mu.Unlock()

	if info.Time.IsZero() {
		info.Time = time.Now().UTC()
	}
	if info.Lockscope == "" {
		info.Lockscope = Version()
	}
	if info.GoVersion == "" {
		info.GoVersion = p.GoVersion()
	}
	m := manifest{Format: CaptureFormat, Version: CaptureVersion, Capture: info, Profiles: profs,
		Starts: compare.StartsOf(r, os.ReadFile)}
	for i, t := range traces {
		m.Traces = append(m.Traces, savedEntry{Name: fmt.Sprintf("traces/trace-%d.json", i+1), Kind: contention.KindTrace, Source: t.Source})
	}
	zw := zip.NewWriter(w)
	put := func(name string, data []byte, method uint16) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: info.Time})
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}
	putJSON := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return err
		}
		return put(name, b, zip.Deflate)
	}
	if err := putJSON("manifest.json", m); err != nil {
		return err
	}
	if err := putJSON("report.json", r); err != nil {
		return err
	}
	for i, e := range profs {
		// Profiles are gzipped already (a raw proto is stored as given).
		if err := put(e.Name, datas[i], zip.Store); err != nil {
			return err
		}
	}
	for i, e := range m.Traces {
		if err := putJSON(e.Name, traces[i]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// SaveFile writes the capture to path, whole or not at all: it is
// written beside it first and renamed into place.
func (p *Pipeline) SaveFile(path string, info contention.Capture, r *contention.Report) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".lockscope-capture-*")
	if err != nil {
		return fmt.Errorf("saving the capture: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	if err := p.Save(f, info, r); err != nil {
		f.Close()
		return fmt.Errorf("saving the capture to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving the capture to %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("saving the capture: %w", err)
	}
	return nil
}

// IsCaptureFile reports whether path starts like a zip file: a saved
// capture rather than a profile or a trace.
func IsCaptureFile(path string) bool {
	// Only a regular file: opening a FIFO for reading would block until
	// a writer comes (O_NONBLOCK covers one swapped in after the Stat).
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return false
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return n == 4 && bytes.Equal(head, []byte("PK\x03\x04"))
}

// OpenCapture reads a saved capture file. Errors name the file; a file
// that cannot be read at all is an [InputError].
func OpenCapture(path string) (*Capture, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &InputError{err}
	}
	if !st.Mode().IsRegular() {
		return nil, &InputError{fmt.Errorf("%s: not a regular file", path)}
	}
	if st.Size() > maxCaptureFile {
		return nil, &InputError{fmt.Errorf("%s: a capture larger than %d MiB; refused", path, maxCaptureFile>>20)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{err}
	}
	defer f.Close()
	c, err := ReadCapture(f, st.Size())
	if err != nil {
		return nil, &InputError{fmt.Errorf("%s: %w", path, err)}
	}
	c.Path = path
	return c, nil
}

// entryName is the only shape of a profile or trace name a capture may
// use: no directories beyond the one, no "..", nothing absolute.
var entryName = regexp.MustCompile(`^(profiles|traces)/[A-Za-z0-9][A-Za-z0-9._-]{0,100}$`)

// ReadCapture reads a saved capture from r (size bytes). It reads every
// file in memory with a limit on each and on their sum, whatever the zip
// headers claim, and refuses names that would escape a directory.
func ReadCapture(r io.ReaderAt, size int64) (*Capture, error) {
	if size > maxCaptureFile {
		return nil, fmt.Errorf("a capture larger than %d MiB; refused", maxCaptureFile>>20)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("not a lockscope capture (a zip file): %w", err)
	}
	if len(zr.File) > maxCaptureEntries {
		return nil, fmt.Errorf("a capture of %d files; at most %d are read", len(zr.File), maxCaptureEntries)
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		name := f.Name
		if !path.IsAbs(name) && !strings.Contains(name, `\`) && filepath.IsLocal(name) && path.Clean(name) == name {
			if _, dup := files[name]; dup {
				return nil, fmt.Errorf("the capture holds %q twice", name)
			}
			files[name] = f
			continue
		}
		return nil, fmt.Errorf("the capture holds a file with an unsafe name %q", shorten(name))
	}
	budget := int64(maxCaptureTotal)
	read := func(name string, limit int64) ([]byte, error) {
		f := files[name]
		if f == nil {
			return nil, fmt.Errorf("the capture has no %s", name)
		}
		limit = min(limit, budget)
		if f.UncompressedSize64 > uint64(limit) {
			return nil, fmt.Errorf("%s: %d bytes uncompressed, more than the %d MiB lockscope reads", name, f.UncompressedSize64, limit>>20)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer rc.Close()
		// The header's size is the writer's word; the limit holds whatever
		// the stream inflates to.
		data, err := io.ReadAll(io.LimitReader(rc, limit+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("%s: inflates past the %d MiB lockscope reads (a zip bomb?)", name, limit>>20)
		}
		budget -= int64(len(data))
		return data, nil
	}
	mdata, err := read("manifest.json", maxManifest)
	if err != nil {
		return nil, fmt.Errorf("not a lockscope capture: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(mdata, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if m.Format != CaptureFormat {
		return nil, fmt.Errorf("not a lockscope capture (manifest format %q)", shorten(m.Format))
	}
	if m.Version > CaptureVersion || m.Version < 1 {
		by := m.Capture.Lockscope
		if by == "" {
			by = "an unknown version"
		}
		return nil, fmt.Errorf("made by lockscope %s in capture format %d; this lockscope (%s) reads format %d: use a newer lockscope to read it",
			shorten(by), m.Version, Version(), CaptureVersion)
	}
	c := &Capture{Info: m.Capture, Starts: m.Starts}
	c.Report = contention.Empty()
	if err := c.readContents(m, read); err != nil {
		// Whatever is wrong inside, the reader is told who wrote it.
		return nil, fmt.Errorf("%w (in a capture made by lockscope %s)", err, shorten(orUnknown(m.Capture.Lockscope)))
	}
	return c, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "of an unknown version"
	}
	return s
}

// readContents reads the report, the profiles and the trace summaries
// that the manifest names.
func (c *Capture) readContents(m manifest, read func(string, int64) ([]byte, error)) error {
	rdata, err := read("report.json", maxReportJSON)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(rdata, c.Report); err != nil {
		return fmt.Errorf("report.json: %w", err)
	}
	c.Report.Finalize()
	for _, e := range m.Profiles {
		if !entryName.MatchString(e.Name) {
			return fmt.Errorf("manifest.json names a profile %q, which is not a capture's file name", shorten(e.Name))
		}
		if e.Kind != contention.KindMutex && e.Kind != contention.KindBlock {
			return fmt.Errorf("%s: unknown profile kind %q", e.Name, shorten(e.Kind))
		}
		data, err := read(e.Name, maxSavedProfile)
		if err != nil {
			return err
		}
		c.Profiles = append(c.Profiles, SavedProfile{Kind: e.Kind, Data: data, Source: e.Source})
	}
	for _, e := range m.Traces {
		if !entryName.MatchString(e.Name) {
			return fmt.Errorf("manifest.json names a trace %q, which is not a capture's file name", shorten(e.Name))
		}
		data, err := read(e.Name, maxReportJSON)
		if err != nil {
			return err
		}
		var s report.Summary
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		if _, err := report.PartFromSummary(s); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		c.Traces = append(c.Traces, s)
	}
	return nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// AddCapture analyses a saved capture's profiles anew (with this
// lockscope) and adds them and its trace summaries to the report, as if
// they had been captured now. It returns how many inputs joined.
func (p *Pipeline) AddCapture(ctx context.Context, c *Capture) (int, error) {
	var parts []*report.Part
	for _, sp := range c.Profiles {
		src := sp.Source
		src.Kind = ""
		name := c.Path
		if name == "" {
			name = "capture"
		}
		if src.Path == "" && src.URL == "" {
			src.Path = name
		}
		part, err := p.Profile(ctx, sp.Kind, sp.Data, src)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		parts = append(parts, part)
	}
	for _, s := range c.Traces {
		part, err := report.PartFromSummary(s)
		if err != nil {
			return 0, err
		}
		parts = append(parts, part)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for _, part := range parts {
		p.Add(part)
	}
	return len(parts), nil
}

// GitCommit returns the commit checked out in the git repository that
// holds dir ("" when there is none). It reads .git itself rather than run
// git: inside a debug session, embedded Delve reaps the adapter's
// children (see DESIGN.md).
func GitCommit(dir string) string {
	for d := range upFrom(dir) {
		gitDir := filepath.Join(d, ".git")
		if st, err := os.Stat(gitDir); err == nil {
			if !st.IsDir() {
				// A worktree or submodule: ".git" is a file "gitdir: PATH".
				b, err := os.ReadFile(gitDir)
				if err != nil {
					return ""
				}
				g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
				if !ok {
					return ""
				}
				if !filepath.IsAbs(g) {
					g = filepath.Join(d, g)
				}
				gitDir = g
			}
			return headCommit(gitDir)
		}
	}
	return ""
}

var hexCommit = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// headCommit resolves HEAD in gitDir: a detached commit, or a branch in
// its loose ref file or in packed-refs (shared with the main repository
// for a worktree, through "commondir").
func headCommit(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return ""
	}
	head := strings.TrimSpace(string(b))
	if hexCommit.MatchString(head) {
		return head
	}
	ref, ok := strings.CutPrefix(head, "ref: ")
	if !ok || !strings.HasPrefix(ref, "refs/") || !filepath.IsLocal(ref) {
		return ""
	}
	dirs := []string{gitDir}
	if c, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common := strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
		dirs = append(dirs, common)
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			if c := strings.TrimSpace(string(b)); hexCommit.MatchString(c) {
				return c
			}
		}
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "packed-refs"))
		if err != nil {
			continue
		}
		for _, ln := range strings.Split(string(b), "\n") {
			if c, name, ok := strings.Cut(strings.TrimSpace(ln), " "); ok && name == ref && hexCommit.MatchString(c) {
				return c
			}
		}
	}
	return ""
}

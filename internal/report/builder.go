// Package report assembles one [contention.Report] from everything lockscope
// read: pprof mutex and block profiles, execution traces, crash and race
// text, and the source index of map writes. The CLI (`lockscope analyze`)
// and the DAP session drive the same [Builder] through internal/pipeline,
// so both show the same report for the same inputs (a test in internal/e2e
// checks it).
//
// The package knows nothing of DAP and runs no processes: its inputs are
// bytes, readers and an already loaded index.
//
// # Pipeline
//
// Inputs may be added in any order; [Builder.Build] always combines them in
// this one:
//
//  1. Hotspots: each profile is analysed on its own by internal/profiles
//     (AddProfile), each trace by internal/tracechain (AddTrace). Hotspots
//     on the same line of the same kind from several inputs are summed.
//     Frames of lockscope's own agent are dropped. Whose code a frame is
//     (the user's, a dependency's, the standard library's) is decided by
//     the one rule of internal/usercode, with the program's modules given
//     to SetUserCode.
//  2. Chains come from the traces, as tracechain ordered them.
//  3. Map writes come from the index (SetIndex) and are marked contended by
//     mapwrites.Join, whose doc has the rule: contention seen on the lock
//     that guards the write, on the write's own paths (its function, or
//     the one that takes the lock for it). Other writes under the same
//     lock are "same lock only".
//  4. Breakpoints are suggested for the map writes by the function given
//     to SetSuggester (internal/pipeline wires internal/recipes for the
//     program's Go version).
//  5. The crash (AddCrashText) gets the other writers of its map from the
//     index; races (AddRaces, parsed as the output streams in by
//     crashrace.RaceParser) are kept in order.
//  6. Stuck lock waits and deadlocks come from goroutine dumps
//     (SetGoroutines), analysed by internal/stuck against the index.
//  7. Finalize computes shares and sorts every list for display.
package report

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/crashrace"
	"github.com/lockscope/lockscope/internal/mapwrites"
	"github.com/lockscope/lockscope/internal/profiles"
	"github.com/lockscope/lockscope/internal/tracechain"
	"github.com/lockscope/lockscope/internal/usercode"
)

// Builder collects inputs and builds reports from them. It is safe for
// concurrent use; Build may be called again after more inputs arrive.
type Builder struct {
	mu       sync.Mutex
	hotspots []contention.Hotspot
	runtime  []contention.Hotspot
	chains   []contention.Chain
	crash    *contention.Crash
	races    []contention.Race
	sources  []contention.Source
	notes    []string
	index    *mapwrites.Index
	suggest  Suggester
	// readSource reads a source file; nil leaves deferred Unlocks where
	// the profile charged them.
	readSource func(file string) ([]byte, error)
	stuck      *stuckInput // goroutine dumps (stuck.go)
	// code says whose code a frame is, for every analysis (SetUserCode).
	code usercode.Rules
}

// Suggester turns the report's map writes (marked contended or not) into
// suggested breakpoints. internal/recipes provides the real one; it is a
// parameter so that this package does not fix the Go version or the
// policy of which writes deserve one.
//
// It returns the breakpoints and the writes anew: a write that cannot get
// a breakpoint says why (MapWrite.NoBreakpoint), and the report shows the
// returned writes.
type Suggester func(writes []contention.MapWrite) ([]contention.Breakpoint, []contention.MapWrite)

// SetSuggester sets the breakpoint suggester used by Build.
func (b *Builder) SetSuggester(s Suggester) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.suggest = s
}

// SetSourceReader lets the builder read source files, which it needs for
// one thing: moving a deferred Unlock that an optimised build charged to
// the function's exit back to its defer line (profiles.AttributeDefers).
// The caller chooses the I/O, typically os.ReadFile.
func (b *Builder) SetSourceReader(read func(file string) ([]byte, error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readSource = read
}

// SetUserCode sets the rule for whose code a frame is: the program's main
// modules and GOROOT, learned once by the caller (internal/pipeline).
// Inputs analysed afterwards charge their waits, crashes and races by it;
// without it, paths and names decide (see internal/usercode).
func (b *Builder) SetUserCode(r usercode.Rules) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.code = r
}

// userCode returns the rules set by SetUserCode.
func (b *Builder) userCode() usercode.Rules {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.code
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	return &Builder{}
}

// Part is the analysis of one input (a profile or a trace), not yet in
// the report. Analysing outside the builder's lock and adding the result
// in one step is what lets a live refresh and an on-demand capture of the
// same kind run at once: each [Builder.Replace] swaps the kind's data
// whole, so a profile can never be counted twice.
type Part struct {
	// kinds are the hotspot and source kinds this part supplies; Replace
	// drops what the builder holds of them first.
	kinds    []string
	hotspots []contention.Hotspot
	runtime  []contention.Hotspot
	chains   []contention.Chain
	notes    []string
	source   contention.Source
}

// Kind is the kind of the part's input: contention.KindMutex,
// contention.KindBlock or contention.KindTrace.
func (p *Part) Kind() string { return p.source.Kind }

// AnalyzeProfile analyses a mutex or block profile (gzipped or raw pprof
// proto) without adding it. kind is contention.KindMutex,
// contention.KindBlock or "" to tell from the stacks. src says where the
// bytes came from; its Kind is set to the profile's kind. Errors name src
// (its Path or URL).
func (b *Builder) AnalyzeProfile(ctx context.Context, kind string, data []byte, src contention.Source) (*Part, error) {
	name := sourceName(src, "profile")
	res, err := profiles.AnalyzeData(ctx, data, name, kind, profiles.Options{Code: b.userCode()})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	readSource := b.readSource
	b.mu.Unlock()
	if readSource != nil && res.Kind == contention.KindMutex {
		// An optimised build charges a deferred Unlock to the function's
		// exit; put it back on the defer line, where the user wrote it.
		res.Hotspots, _ = profiles.AttributeDefers(res.Hotspots, readSource)
	}
	p := &Part{kinds: []string{res.Kind}, hotspots: dropAgent(res.Hotspots)}
	for _, h := range dropAgent(res.RuntimeInternal) {
		if !traceMachinery(h.Stacks) {
			p.runtime = append(p.runtime, h)
		}
	}
	for _, n := range res.Notes {
		switch {
		case n.Code == profiles.NoteRuntimeInternal:
			// The report lists those apart (RuntimeInternal), after
			// dropping what the capture itself caused; the note's total
			// would count that too.
		case src.Origin == contention.OriginAgent || src.Origin == contention.OriginTest:
			// lockscope set the rates itself: the hint does not apply.
			p.notes = append(p.notes, name+": "+n.Text)
		default:
			p.notes = append(p.notes, name+": "+n.String())
		}
	}
	src.Kind = res.Kind
	p.source = src
	return p, nil
}

// AnalyzeTrace analyses an execution trace read from r without adding it.
// A truncated trace keeps its complete generations and adds a note. A
// cancelled ctx stops the analysis between batches of events.
func (b *Builder) AnalyzeTrace(ctx context.Context, r io.Reader, src contention.Source) (*Part, error) {
	name := sourceName(src, "trace")
	code := b.userCode()
	res, err := tracechain.Analyze(ctx, r, tracechain.Options{Name: name, Code: code})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The agent's own goroutines (the trace window, the profile writer)
	// show in the trace; their hotspots carry the agent in their stacks,
	// and chains through the same lines go with them.
	tainted := map[contention.Site]bool{}
	for _, h := range res.Hotspots {
		if isAgentFrame(h.File, h.Function) || stacksInAgent(h.Stacks) || !chargeable(code, h.Function, h.File) {
			tainted[contention.Site{File: h.File, Line: h.Line, Function: h.Function}] = true
		}
	}
	p := &Part{kinds: []string{contention.KindTrace, contention.KindTraceBlocked, contention.KindTraceBlocks}, notes: res.Notes}
	for _, h := range res.Hotspots {
		if !tainted[contention.Site{File: h.File, Line: h.Line, Function: h.Function}] {
			p.hotspots = append(p.hotspots, h)
		}
	}
	for _, c := range res.Chains {
		if !chainInAgent(c, tainted) && chainHasUser(code, c) {
			p.chains = append(p.chains, c)
		}
	}
	src.Kind = contention.KindTrace
	if src.DurationNs == 0 {
		src.DurationNs = res.DurationNs
	}
	p.source = src
	return p, nil
}

// Add adds an analysed input to what the builder holds.
func (b *Builder) Add(p *Part) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.add(p)
}

// Replace drops what the builder holds of the part's kinds and adds the
// part, in one step. A running process's profiles are cumulative since it
// started, so each fresh capture replaces the last one of its kind.
func (b *Builder) Replace(p *Part) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear(p.kinds)
	b.add(p)
}

func (b *Builder) add(p *Part) {
	b.hotspots = append(b.hotspots, p.hotspots...)
	b.runtime = append(b.runtime, p.runtime...)
	b.chains = append(b.chains, p.chains...)
	b.notes = append(b.notes, p.notes...)
	b.addSource(p.source)
}

// AddProfile analyses a profile (see [Builder.AnalyzeProfile]) and adds it.
func (b *Builder) AddProfile(ctx context.Context, kind string, data []byte, src contention.Source) error {
	p, err := b.AnalyzeProfile(ctx, kind, data, src)
	if err != nil {
		return err
	}
	b.Add(p)
	return nil
}

// AddTrace analyses a trace (see [Builder.AnalyzeTrace]) and adds it.
func (b *Builder) AddTrace(ctx context.Context, r io.Reader, src contention.Source) error {
	p, err := b.AnalyzeTrace(ctx, r, src)
	if err != nil {
		return err
	}
	b.Add(p)
	return nil
}

// AddCrashText looks for a fatal runtime error (such as "concurrent map
// writes") in a program's output. It reports whether it found one; the
// first crash found is kept.
func (b *Builder) AddCrashText(text string, src contention.Source) bool {
	c, ok := crashrace.ParseCrashWith(text, b.userCode())
	if !ok || c == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.crash == nil {
		b.crash = c
	}
	src.Kind = contention.KindCrash
	b.addSource(src)
	return true
}

// SetCrash records a crash found by other means (a Delve stop).
func (b *Builder) SetCrash(c *contention.Crash, src contention.Source) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.crash = c
	src.Kind = contention.KindCrash
	b.addSource(src)
}

// AddRaces records race reports parsed elsewhere (a streaming
// crashrace.RaceParser fed by the debuggee's output).
func (b *Builder) AddRaces(races []contention.Race, src contention.Source) {
	if len(races) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.races = append(b.races, races...)
	src.Kind = contention.KindRace
	b.addSource(src)
}

// SetIndex sets the source index of map writes and lock calls.
func (b *Builder) SetIndex(ix *mapwrites.Index, src contention.Source) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.index = ix
	if ix != nil {
		src.Kind = contention.KindSource
		b.addSource(src)
		if p := ix.Problems(); len(p) > 0 {
			n := fmt.Sprintf("the source index is incomplete (%d problem(s)); first: %s", len(p), p[0])
			b.notes = append(b.notes, n)
		}
	}
}

// AddNote adds a sentence for a person.
func (b *Builder) AddNote(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// Clear forgets the hotspots of the given kinds (all when none is given)
// and their sources; the source index stays. lockscope/clear uses it.
func (b *Builder) Clear(kinds ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clear(kinds)
}

func (b *Builder) clear(kinds []string) {
	drop := map[string]bool{}
	for _, k := range kinds {
		drop[k] = true
	}
	all := len(kinds) == 0
	keep := func(k string) bool { return !all && !drop[k] }
	var hs []contention.Hotspot
	for _, h := range b.hotspots {
		if keep(h.Kind) {
			hs = append(hs, h)
		}
	}
	b.hotspots = hs
	var rt []contention.Hotspot
	for _, h := range b.runtime {
		if keep(h.Kind) {
			rt = append(rt, h)
		}
	}
	b.runtime = rt
	if all || drop[contention.KindTrace] || drop[contention.KindTraceBlocked] {
		// The chains before the last stop are not a trace window's: only
		// the next stop replaces them (stopwindow.go).
		b.chains = slices.DeleteFunc(b.chains, func(c contention.Chain) bool { return all || c.BeforeStop == "" })
	}
	var srcs []contention.Source
	for _, s := range b.sources {
		// The index stays; so does the last stop's window, but for Clear.
		if s.Kind == contention.KindSource || keep(s.Kind) || (!all && s.Origin == contention.OriginStopWindow) {
			srcs = append(srcs, s)
		}
	}
	b.sources = srcs
	b.clearStuck(all, drop)
}

func (b *Builder) addSource(src contention.Source) {
	if src.Time.IsZero() {
		src.Time = time.Now().UTC()
	}
	b.sources = append(b.sources, src)
}

// Build returns a new report from everything added so far. The report
// shares nothing with the builder.
func (b *Builder) Build() *contention.Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := contention.Empty()
	r.Hotspots = mergeHotspots(b.hotspots)
	r.RuntimeInternal = mergeHotspots(b.runtime)
	r.Chains = append([]contention.Chain(nil), b.chains...)
	r.Races = append([]contention.Race(nil), b.races...)
	r.Sources = append([]contention.Source(nil), b.sources...)
	r.Notes = append([]string(nil), b.notes...)
	// Shares first: step 3 reads them.
	contention.ComputeShares(r.Hotspots)
	if b.index != nil {
		r.MapWrites = b.mapWrites(r.Hotspots)
		if b.suggest != nil {
			r.Breakpoints, r.MapWrites = b.suggest(r.MapWrites)
		}
	}
	if b.crash != nil {
		c := *b.crash
		if b.index != nil && len(c.Writers) == 0 {
			crashrace.AddWriters(&c, b.index.Writes())
		}
		r.Crash = &c
	}
	b.addStuck(r)
	r.Finalize()
	return r
}

// mapWrites marks the index's writes contended from the lock hotspots.
func (b *Builder) mapWrites(hs []contention.Hotspot) []contention.MapWrite {
	// The capture window, for the mean number of waiters (Little's law:
	// the total wait over the time it was spread across).
	var window int64
	for _, src := range b.sources {
		if src.Kind == contention.KindBlock || src.Kind == contention.KindMutex {
			window = max(window, src.DurationNs)
		}
	}
	// One rule for "contended", with its 1% threshold, lives in mapwrites.
	return mapwrites.Join(b.index.Writes(), b.index.LockSites(), hs, mapwrites.JoinOptions{WindowNs: window})
}

// mergeHotspots sums hotspots of the same kind on the same line and
// function, keeping the heaviest stacks.
func mergeHotspots(in []contention.Hotspot) []contention.Hotspot {
	type key struct {
		kind, file, fn string
		line           int
	}
	idx := map[key]int{}
	var out []contention.Hotspot
	for _, h := range in {
		k := key{h.Kind, h.File, h.Function, h.Line}
		if i, ok := idx[k]; ok {
			o := &out[i]
			o.DelayNs += h.DelayNs
			o.CumDelayNs += h.CumDelayNs
			o.Count += h.Count
			o.OpenWaits += h.OpenWaits
			o.StillWaitingNs = max(o.StillWaitingNs, h.StillWaitingNs)
			if len(o.Stacks) < 3 {
				o.Stacks = append(o.Stacks, h.Stacks[:min(len(h.Stacks), 3-len(o.Stacks))]...)
			}
			continue
		}
		idx[k] = len(out)
		h.Stacks = append([][]contention.Frame(nil), h.Stacks...)
		out = append(out, h)
	}
	return out
}

// isAgentFrame: the agent's frames are never hotspots.
func isAgentFrame(file, fn string) bool { return contention.IsAgentFrame(file, fn) }

// chargeable reports whether a trace hotspot sits in the user's code or
// a dependency's. The trace analysis charges only such lines (a lock taken
// inside the standard library goes to its caller, with Via); this is the
// same rule, kept as a guard for traces of other analysers' making.
func chargeable(code usercode.Rules, fn, file string) bool {
	return code.Class(fn, file).Chargeable()
}

// chainHasUser reports whether a chain passes through the user's code:
// a chain of the standard library's goroutines alone (net/http's
// connections waking each other) is nothing the user can change.
func chainHasUser(code usercode.Rules, c contention.Chain) bool {
	for _, l := range c.Links {
		switch c := code.Class(l.Function, l.File); {
		case l.Function == "":
		case c == usercode.User, c == usercode.Dep && l.CallSite != nil:
			return true
		}
	}
	return false
}

// traceMachinery reports whether a runtime-internal wait belongs to the
// execution tracer itself (its CPU-sample reader sleeps on a channel for
// as long as a trace runs): an artefact of capturing, not contention.
func traceMachinery(stacks [][]contention.Frame) bool {
	for _, st := range stacks {
		for _, f := range st {
			if strings.HasPrefix(f.Function, "runtime.traceStartReadCPU") {
				return true
			}
		}
	}
	return false
}

func stacksInAgent(stacks [][]contention.Frame) bool {
	for _, st := range stacks {
		for _, f := range st {
			if isAgentFrame(f.File, f.Function) {
				return true
			}
		}
	}
	return false
}

func dropAgent(hs []contention.Hotspot) []contention.Hotspot {
	var out []contention.Hotspot
	for _, h := range hs {
		if !isAgentFrame(h.File, h.Function) && !stacksInAgent(h.Stacks) {
			out = append(out, h)
		}
	}
	return out
}

func chainInAgent(c contention.Chain, tainted map[contention.Site]bool) bool {
	for _, l := range c.Links {
		if isAgentFrame(l.File, l.Function) || tainted[contention.Site{File: l.File, Line: l.Line, Function: l.Function}] {
			return true
		}
	}
	return false
}

func sourceName(src contention.Source, def string) string {
	switch {
	case src.Path != "":
		return src.Path
	case src.URL != "":
		return src.URL
	case src.Origin != "":
		return src.Origin + " " + def
	}
	return def
}

package pipeline

import (
	"context"
	"slices"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/mapwrites"
	"github.com/lockscope/lockscope/internal/usercode"
)

// IndexLibraries indexes, besides the program's own packages, those of
// every dependency module that holds a hot lock in the report so far (a
// lock hotspot in a module's code, such as a cache library's Get): their
// map writes under that lock are then joined with its contention, flagged
// and given breakpoints like the user's own. It returns the modules added,
// none when no dependency holds a hot lock or they are indexed already.
//
// It runs the go command and type-checks the libraries, so it belongs
// where the program no longer runs under the embedded Delve (which reaps
// every child process while the debuggee runs): `lockscope analyze` calls
// it once the program has ended. The index it replaces stays on failure.
func (p *Pipeline) IndexLibraries(ctx context.Context) ([]string, error) {
	if !p.WaitIndex(ctx) {
		return nil, ctx.Err()
	}
	p.mu.Lock()
	j, code := p.index, p.code
	p.mu.Unlock()
	if j == nil {
		return nil, nil
	}
	mods := hotLibraries(p.Build().Hotspots, code)
	fresh := slices.DeleteFunc(slices.Clone(mods), func(m string) bool { return slices.Contains(j.opts.Libraries, m) })
	if len(fresh) == 0 {
		return nil, nil
	}
	o := j.opts
	o.Libraries = append(slices.Clone(o.Libraries), fresh...)
	ix, err := mapwrites.LoadProgram(j.dir, mapwrites.Options{BuildFlags: o.BuildFlags, Tests: o.Tests, Modules: o.Libraries})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	current := p.index == j
	if current {
		j.opts = o
	}
	p.mu.Unlock()
	if current {
		p.b.SetIndex(ix, contention.Source{Path: j.dir, Origin: contention.OriginSource})
	}
	return fresh, nil
}

// hotLibraries returns the modules of the dependencies' lock hotspots,
// heaviest first.
func hotLibraries(hs []contention.Hotspot, code usercode.Rules) []string {
	var mods []string
	for _, h := range hs {
		if !h.Lock || code.Class(h.Function, h.File) != usercode.Dep {
			continue
		}
		if m := moduleOf(usercode.FuncPackage(h.Function), h.File); m != "" && !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	return mods
}

// moduleOf finds the module of a package from its file's path in the
// module cache, where the module's folder is "<module path>@<version>" with
// upper-case letters escaped ("github.com/!burnt!sushi/toml@v1.3.2"): the
// longest prefix of the package path whose folder the file sits in.
func moduleOf(pkg, file string) string {
	file = strings.ReplaceAll(file, "\\", "/")
	for m := pkg; m != "" && m != "."; {
		if strings.Contains(file, escapeModule(m)+"@v") {
			return m
		}
		i := strings.LastIndexByte(m, '/')
		if i < 0 {
			break
		}
		m = m[:i]
	}
	return ""
}

// escapeModule escapes a module path as the module cache does: each
// upper-case letter becomes '!' and its lower case.
func escapeModule(m string) string {
	var b strings.Builder
	for _, r := range m {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

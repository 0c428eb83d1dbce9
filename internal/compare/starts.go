package compare

import (
	"go/ast"
	"go/parser"
	"go/token"

	"github.com/lockscope/lockscope/internal/contention"
)

// Starts maps a source file to, for each line the report names in it, the
// first line of the innermost function (declaration or literal) around
// it. Entries match across captures by function and by the line's offset
// from that first line, so that an edit above a function, or above the
// hotspot in another function, does not break the match.
//
// A capture keeps its own Starts (the source may have changed since);
// the compared report's come from the files as they are now.
type Starts map[string]map[int]int

// Start returns the first line of the function around file:line, or 0
// when it is not known (the file was not readable when the starts were
// taken).
func (s Starts) Start(file string, line int) int {
	return s[file][line]
}

// StartsOf reads the files r names with read (os.ReadFile, typically) and
// finds each named line's function. Files that cannot be read or parsed
// are left out: their lines match by their absolute line number.
func StartsOf(r *contention.Report, read func(string) ([]byte, error)) Starts {
	lines := map[string]map[int]bool{}
	addLine := func(file string, line int) {
		if file == "" || line <= 0 {
			return
		}
		if lines[file] == nil {
			lines[file] = map[int]bool{}
		}
		lines[file][line] = true
	}
	for _, h := range r.Hotspots {
		addLine(h.File, h.Line)
	}
	for _, c := range r.Chains {
		for _, l := range c.Links {
			addLine(l.File, l.Line)
		}
	}
	for _, m := range r.MapWrites {
		addLine(m.File, m.Line)
	}
	out := Starts{}
	for file, ls := range lines {
		src, err := read(file)
		if err != nil {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
		if f == nil {
			continue
		}
		_ = err // a file with a syntax error still has the functions before it
		m := map[int]int{}
		for line := range ls {
			if st := funcStart(fset, f, line); st > 0 {
				m[line] = st
			}
		}
		if len(m) > 0 {
			out[file] = m
		}
	}
	return out
}

// funcStart returns the first line of the innermost function around line.
func funcStart(fset *token.FileSet, f *ast.File, line int) int {
	best, bestSize := 0, -1
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			return false
		}
		start, end := fset.Position(n.Pos()).Line, fset.Position(n.End()).Line
		if line < start || line > end {
			return false // nothing inside can hold the line
		}
		switch n.(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			if size := end - start; bestSize < 0 || size <= bestSize {
				best, bestSize = start, size
			}
		}
		return true
	})
	return best
}

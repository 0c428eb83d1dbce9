package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"sync"
)

// funcNamer prints function names as Go developers write them, not as the
// runtime records them:
//
//   - the package by its name, from its source file, so that
//     "github.com/hashicorp/golang-lru/v2.(*Cache).Get" reads
//     "lru.(*Cache).Get" rather than "v2.(*Cache).Get";
//   - a generic type or function with its own type parameter names, so that
//     "(*Cache[go.shape.string,go.shape.int]).Get" reads
//     "(*Cache[K,V]).Get". Without the source it reads "(*Cache[...]).Get",
//     as Go's own tracebacks print it.
//
// It reads each source file once; files it cannot read fall back to the
// import path's last element (the element before a /vN suffix).
type funcNamer struct {
	mu    sync.Mutex
	files map[string]*fileNames
}

// fileNames is what a source file tells about names.
type fileNames struct {
	pkg        string
	typeParams map[string]string // type or function name -> "K,V"
}

func newFuncNamer() *funcNamer { return &funcNamer{files: map[string]*fileNames{}} }

// name returns fn as a person writes it; file is where fn is defined (or
// any file of its package), "" when unknown.
func (n *funcNamer) name(fn, file string) string {
	if fn == "" {
		return ""
	}
	bare, groups := cutBrackets(fn)
	pkgPath, rest := splitFunc(bare)
	fileInfo := n.file(file)
	pkg := pkgName(pkgPath)
	if fileInfo != nil && pkgPath != "" {
		pkg = fileInfo.pkg
	}
	// Put each bracket group back, as the parameter names when the source
	// has them.
	var b strings.Builder
	g := 0
	for i := 0; i < len(rest); i++ {
		if rest[i] != '[' || i+1 >= len(rest) || rest[i+1] != ']' || g >= len(groups) {
			b.WriteByte(rest[i])
			continue
		}
		params := "..."
		if fileInfo != nil {
			if p, ok := fileInfo.typeParams[identBefore(rest, i)]; ok {
				params = p
			}
		}
		b.WriteString("[" + params + "]")
		g++
		i++ // the ']'
	}
	if pkg == "" {
		return b.String()
	}
	return pkg + "." + b.String()
}

// file reads a source file's package name and type parameter names.
func (n *funcNamer) file(file string) *fileNames {
	if file == "" || !strings.HasSuffix(file, ".go") {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if fi, ok := n.files[file]; ok {
		return fi
	}
	var fi *fileNames
	if f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution); err == nil {
		fi = &fileNames{pkg: f.Name.Name, typeParams: map[string]string{}}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Type.TypeParams != nil {
					fi.typeParams[d.Name.Name] = fieldNames(d.Type.TypeParams)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok && ts.TypeParams != nil {
						fi.typeParams[ts.Name.Name] = fieldNames(ts.TypeParams)
					}
				}
			}
		}
	}
	n.files[file] = fi // nil too: the file is not read again
	return fi
}

func fieldNames(fl *ast.FieldList) string {
	var names []string
	for _, f := range fl.List {
		for _, nm := range f.Names {
			names = append(names, nm.Name)
		}
	}
	return strings.Join(names, ",")
}

// cutBrackets replaces each outermost [...] group of fn with "[]" and
// returns the groups: instantiation arguments hold dots and slashes of
// their own ("[go.shape.string,example.com/x.T]") that would confuse
// splitting the name.
func cutBrackets(fn string) (string, []string) {
	var b strings.Builder
	var groups []string
	depth, start := 0, 0
	for i := 0; i < len(fn); i++ {
		switch c := fn[i]; {
		case c == '[':
			if depth == 0 {
				start = i
				b.WriteString("[]")
			}
			depth++
		case c == ']' && depth > 0:
			depth--
			if depth == 0 {
				groups = append(groups, fn[start+1:i])
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String(), groups
}

// splitFunc splits "example.com/a/b.(*T).M" into "example.com/a/b" and
// "(*T).M".
func splitFunc(fn string) (pkgPath, rest string) {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return "", fn
	}
	return fn[:slash+1+dot], fn[slash+1+dot+1:]
}

var majorVersion = regexp.MustCompile(`^v[0-9]+$`)

// pkgName guesses a package's name from its import path: its last
// element, or the one before a major version suffix (".../lru/v2").
func pkgName(pkgPath string) string {
	elems := strings.Split(pkgPath, "/")
	last := elems[len(elems)-1]
	if majorVersion.MatchString(last) && len(elems) > 1 {
		last = elems[len(elems)-2]
	}
	return last
}

// identBefore returns the identifier that ends at s[i] (exclusive): the
// generic type or function a bracket group belongs to.
func identBefore(s string, i int) string {
	j := i
	for j > 0 && (isIdentByte(s[j-1])) {
		j--
	}
	return s[j:i]
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

package capture

import (
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// Every name the agent adds to the user's package starts with
// lockscopeAgent, and every import has such an alias, so that nothing can
// clash with the package's own names; each of its templates is
// gofmt-clean and has the build constraint that keeps it out of a build
// by a Go too old for it.
func TestAgentTemplateNames(t *testing.T) {
	constraints := map[string]string{
		AgentFileName:                    "//go:build go1.24\n",
		"zz_lockscope_agent_flight.go":   "//go:build go1.25\n",
		"zz_lockscope_agent_noflight.go": "//go:build go1.24 && !go1.25\n",
	}
	files := agentFiles(false)
	if len(files) != len(constraints) {
		t.Fatalf("%d agent files, want %d", len(files), len(constraints))
	}
	for _, af := range files {
		t.Run(af.name, func(t *testing.T) {
			if !strings.Contains(af.template, "\n\n"+constraints[af.name]+"\npackage lockscopeagent\n") {
				t.Errorf("%s lacks %q right before its package clause", af.name, constraints[af.name])
			}
			checkTemplate(t, af.template)
		})
	}
}

func checkTemplate(t *testing.T, agentTemplate string) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "agent.go.txt", agentTemplate, parser.ParseComments)
	if err != nil {
		t.Fatalf("the agent template does not parse: %v", err)
	}
	if f.Name.Name != "lockscopeagent" {
		t.Errorf("template package %q: Prepare replaces \"package lockscopeagent\"", f.Name.Name)
	}
	for _, imp := range f.Imports {
		if imp.Name == nil || (imp.Name.Name != "_" && !strings.HasPrefix(imp.Name.Name, "lockscopeAgent")) {
			t.Errorf("import %s has no lockscopeAgent alias", imp.Path.Value)
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name != "init" && !strings.HasPrefix(d.Name.Name, "lockscopeAgent") {
				t.Errorf("func %s lacks the prefix", d.Name.Name)
			}
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.TypeSpec:
					if !strings.HasPrefix(sp.Name.Name, "lockscopeAgent") {
						t.Errorf("type %s lacks the prefix", sp.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range sp.Names {
						if !strings.HasPrefix(n.Name, "lockscopeAgent") {
							t.Errorf("var or const %s lacks the prefix", n.Name)
						}
					}
				}
			}
		}
	}
	src, err := format.Source([]byte(agentTemplate))
	if err != nil {
		t.Fatal(err)
	}
	if string(src) != agentTemplate {
		t.Errorf("the agent template is not gofmt-clean")
	}
}

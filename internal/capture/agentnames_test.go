package capture

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// Every function, type and variable of the agent (and so every method's
// receiver) carries contention.AgentFuncPrefix, so that
// contention.IsAgentFrame knows its frames by name as well as by file, and
// so that it cannot collide with a name of the user's package.
func TestAgentNamesCarryThePrefix(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), AgentFileName, agentTemplate, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parsing the agent template: %v", err)
	}
	check := func(kind, name string) {
		if name == "_" || name == "init" {
			return
		}
		if !strings.HasPrefix(name, contention.AgentFuncPrefix) {
			t.Errorf("agent %s %s lacks the prefix %s", kind, name, contention.AgentFuncPrefix)
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				check("function", d.Name.Name)
			}
			if d.Recv != nil {
				if !contention.IsAgentFrame("", "main.(*"+recvName(d.Recv.List[0].Type)+")."+d.Name.Name) {
					t.Errorf("method %s.%s is not known as the agent's", recvName(d.Recv.List[0].Type), d.Name.Name)
				}
			} else if !contention.IsAgentFrame("", "main."+d.Name.Name) && d.Name.Name != "init" {
				t.Errorf("function %s is not known as the agent's", d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					check("type", s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						check("variable", n.Name)
					}
				}
			}
		}
	}
}

func recvName(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

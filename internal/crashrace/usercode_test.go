package crashrace

import (
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// TestCrashChargedByModules: a crash is charged to the user's code as the
// program's modules say, by the same rule as waits (internal/usercode).
func TestCrashChargedByModules(t *testing.T) {
	code := usercode.Rules{Modules: []usercode.Module{{Path: "ledgerdemo", Dir: "/home/u/ledgerdemo"}}}
	tests := []struct {
		name   string
		frames []contention.Frame
		want   string
	}{
		{
			// Delve cuts "ledgerdemo/sync.(*Registry).Put" to its last
			// element, and the stack shows no runtime frame to find a
			// GOROOT from: only the module's folder tells it is the user's.
			"a user package named like the standard library's",
			[]contention.Frame{
				{Function: "sync.(*Registry).Put", File: "/home/u/ledgerdemo/sync/registry.go", Line: 12},
				{Function: "main.main", File: "/home/u/ledgerdemo/main.go", Line: 30},
			},
			"sync.(*Registry).Put",
		},
		{
			// A map written inside a dependency: the user's call is the
			// line a person changes.
			"a write inside a dependency",
			[]contention.Frame{
				{Function: "internal/runtime/maps.fatal", File: "/usr/local/go/src/internal/runtime/maps/runtime.go", Line: 34},
				{Function: "runtime.mapassign_faststr", File: "/usr/local/go/src/internal/runtime/maps/runtime_faststr.go", Line: 263},
				{Function: "github.com/x/lib.(*Table).Set", File: "/root/go/pkg/mod/github.com/x/lib@v1.2.0/table.go", Line: 40},
				{Function: "main.handle", File: "/home/u/ledgerdemo/main.go", Line: 21},
			},
			"main.handle",
		},
	}
	for _, tt := range tests {
		c, ok := CrashFromStopWith("fatal error: concurrent map writes", tt.frames, 7, code)
		if !ok || c.Function != tt.want {
			t.Errorf("%s: charged to %q (ok %v), want %q", tt.name, c.Function, ok, tt.want)
		}
	}
}

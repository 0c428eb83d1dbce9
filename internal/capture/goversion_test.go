package capture

import (
	"errors"
	"fmt"
	"go/build/constraint"
	"go/version"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/testutil"
)

func TestCheckGoVersion(t *testing.T) {
	for _, tc := range []struct {
		v   string
		old bool
	}{
		{"go1.19.8", true},
		{"go1.23.12", true},
		{"go1.23rc1", true},
		{"go1.24rc1", false},
		{"go1.24", false},
		{"go1.24.0", false},
		{"go1.26.8", false},
		{"go1.26.8 X:boringcrypto", false},
		{"go1.22.1 X:nocoverageredesign", true},
		{"go1.21.0-bigcorp", true},
		// Development and unreadable versions count as new enough.
		{"devel go1.27-0123abcd Tue Dec 1 10:00:00 2026 +0000", false},
		{"", false},
		{"weird", false},
	} {
		err := CheckGoVersion(tc.v)
		var oe *OldGoError
		if got := errors.As(err, &oe); got != tc.old {
			t.Errorf("CheckGoVersion(%q) = %v, want old=%v", tc.v, err, tc.old)
			continue
		}
		if tc.old {
			want := "capture needs Go 1.24 or later; this program builds with " + tc.v
			if err.Error() != want || oe.GoVersion != tc.v {
				t.Errorf("CheckGoVersion(%q) = %q (version %q), want %q", tc.v, err, oe.GoVersion, want)
			}
		}
	}
}

// MinGoVersion must be the agent's own build constraint: the oldest
// release whose build tags satisfy it. Were the agent's constraint raised
// without it, an older toolchain would build a program with no agent, and
// the session would wait for an answer that never comes.
func TestMinGoVersionIsTheAgentsConstraint(t *testing.T) {
	var expr constraint.Expr
	for line := range strings.Lines(agentTemplate) {
		if constraint.IsGoBuild(line) {
			var err error
			if expr, err = constraint.Parse(line); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if expr == nil {
		t.Fatal("agent.go.txt has no //go:build line")
	}
	// A release's build tags are go1.1 up to its own version.
	builds := func(release string) bool {
		return expr.Eval(func(tag string) bool {
			return version.IsValid(tag) && version.Compare(tag, release) <= 0
		})
	}
	minor, err := strconv.Atoi(strings.TrimPrefix(MinGoVersion, "go1."))
	if err != nil {
		t.Fatalf("MinGoVersion %q: %v", MinGoVersion, err)
	}
	before := fmt.Sprintf("go1.%d", minor-1)
	if !builds(MinGoVersion) || builds(before) {
		t.Errorf("the agent's constraint %q: builds with %s: %v, with %s: %v; want MinGoVersion (%s) to be the first release it builds with",
			expr, MinGoVersion, builds(MinGoVersion), before, builds(before), MinGoVersion)
	}
}

// Prepare refuses an old toolchain before it makes anything: no folder,
// and so no build flags with -checklinkname=0, which the linkers before Go
// 1.23 reject.
func TestPrepareRefusesOldGo(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "capture", "oldmod")
	tmp := t.TempDir()
	inj, err := Prepare(PrepareOptions{Program: dir, TempDir: tmp, GoVersion: "go1.19.8"})
	var oe *OldGoError
	if !errors.As(err, &oe) || inj != nil {
		t.Fatalf("Prepare with go1.19.8 = %v, %v; want an *OldGoError", inj, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("Prepare left %d entries in its TempDir", len(left))
	}
	for _, gv := range []string{"go1.24.0", "devel go1.27-0123abcd"} {
		inj, err := Prepare(PrepareOptions{Program: dir, TempDir: tmp, GoVersion: gv})
		if err != nil {
			t.Fatalf("Prepare with %s: %v", gv, err)
		}
		if !strings.Contains(strings.Join(inj.BuildFlags, " "), agentLdflag) {
			t.Errorf("Prepare with %s: build flags %q lack %s", gv, inj.BuildFlags, agentLdflag)
		}
		inj.Close()
	}
}

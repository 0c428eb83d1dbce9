package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// The text report names the caller that takes a helper's lock and the
// caller that forgot it, and lists the writes under a hot lock where no
// contention was seen in their own group, after the writes to look at.
func TestTextMapWriteGroups(t *testing.T) {
	cwd := "/home/u/app"
	f := cwd + "/cache.go"
	r := contention.Empty()
	r.MapWrites = []contention.MapWrite{
		{File: f, Line: 20, Function: "main.(*Cache).setLocked", Map: "c.items", Op: contention.OpAssign, Guard: "c.mu",
			Contended: true, WaitNs: 2e9, GuardedVia: []contention.Site{{File: f, Line: 9, Function: "main.(*Cache).Add"}}},
		{File: f, Line: 30, Function: "main.(*Cache).bump", Map: "c.stats", Op: contention.OpIncDec, Unguarded: true,
			SometimesUnguarded: true, UnguardedVia: []contention.Site{{File: f, Line: 40, Function: "main.(*Cache).Touch"}, {File: f, Line: 50, Function: "main.(*Cache).String"}}},
		{File: f, Line: 60, Function: "main.(*Cache).Purge", Map: "c.items", Op: contention.OpDelete, Guard: "c.mu", SameLockOnly: true},
	}
	var out bytes.Buffer
	if err := writeText(&out, r, cwd, 5); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"cache.go:20  main.(*Cache).setLocked  c.items (assign)  under c.mu (taken by the caller at cache.go:9 (main.(*Cache).Add)), contended: 2s",
		"cache.go:30  main.(*Cache).bump  c.stats (incdec)  sometimes unguarded: entered without the lock at cache.go:40 (main.(*Cache).Touch) and 1 more",
		"\nSame lock, not seen contended\n  cache.go:60  main.(*Cache).Purge  c.items (delete)  under c.mu\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	look, same := strings.Index(text, "Map writes to look at"), strings.Index(text, "Same lock, not seen contended")
	if look < 0 || same < look || strings.Count(text, "Purge") != 1 {
		t.Errorf("the same-lock group must follow the writes to look at, once:\n%s", text)
	}
}

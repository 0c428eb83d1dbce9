package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// readModule reads a file recorded in a profile from this checkout.
func readModule(file string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, relPath(file)))
}

// TestAttributeDefers: in the optimised inventory build the deferred Unlock
// is open-coded and charged to Add's closing brace; AttributeDefers moves it
// to the `defer s.mu.Unlock()` line, where the unoptimised build's
// .deferwrap1 puts it by itself.
func TestAttributeDefers(t *testing.T) {
	const store = "testdata/inventory/store/store.go"
	unlock := testutil.MarkerLine(t, store, "store-unlock")

	opt := analyzeRecorded(t, "inventory", contention.KindMutex)
	if opt.Hotspots[0].Line == unlock {
		t.Fatalf("the optimised profile already charges the defer line; the test proves nothing")
	}
	exit := opt.Hotspots[0].Line
	hs, notes := AttributeDefers(opt.Hotspots, readModule)
	h := hs[0]
	if relPath(h.File) != store || h.Line != unlock || h.ExitLine != exit || h.Method != "Unlock" {
		t.Errorf("after AttributeDefers: %s:%d exit %d %s, want %s:%d exit %d", relPath(h.File), h.Line, h.ExitLine, h.Method, store, unlock, exit)
	}
	if len(h.Stacks) == 0 || h.Stacks[0][0].Line != unlock {
		t.Errorf("the stack still starts at the exit: %+v", h.Stacks)
	}
	if len(notes) == 0 || !strings.Contains(notes[len(notes)-1], "moved") {
		t.Errorf("notes = %q", notes)
	}
	var share float64
	for _, h := range hs {
		share += h.Share
	}
	if share > 1+1e-9 {
		t.Errorf("shares sum to %v", share)
	}

	// Explicit unlocks and the unoptimised wrapper are left alone.
	for _, prog := range []string{"ledger", "inventory-noopt", "rwcache", "handoff"} {
		r := analyzeRecorded(t, prog, contention.KindMutex)
		before := append([]contention.Hotspot(nil), r.Hotspots...)
		after, _ := AttributeDefers(r.Hotspots, readModule)
		if !reflect.DeepEqual(before, after) {
			t.Errorf("%s: AttributeDefers changed hotspots it should not have", prog)
		}
	}

	// A file that cannot be read is left alone.
	gone := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	again := analyzeRecorded(t, "inventory", contention.KindMutex)
	if hs, _ := AttributeDefers(again.Hotspots, gone); hs[0].Line != exit {
		t.Errorf("moved without the source")
	}
}

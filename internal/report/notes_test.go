package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/profiles"
	"github.com/lockscope/lockscope/internal/testutil"
)

// TestProfileNotesChosenByCode checks the report's choice among the profile
// analyser's notes, which goes by profiles.NoteCode: the runtime-internal
// total is left out (the report lists those sites apart, without what the
// capture caused), and the rate hint shows only for a profile whose rates
// lockscope did not set. The inputs are recorded profiles: calm.mutex has
// no samples, inventory.mutex has contention on the runtime's own locks.
func TestProfileNotesChosenByCode(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "profiles")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	calm, inventory := read("calm.mutex.pb.gz"), read("inventory.mutex.pb.gz")

	// What the analyser says, so that the test follows its wording.
	notesOf := func(data []byte) map[profiles.NoteCode]profiles.Note {
		r, err := profiles.AnalyzeBytes(context.Background(), data, "p", contention.KindMutex)
		if err != nil {
			t.Fatal(err)
		}
		out := map[profiles.NoteCode]profiles.Note{}
		for _, n := range r.Notes {
			out[n.Code] = n
		}
		return out
	}
	empty, ok := notesOf(calm)[profiles.NoteNoSamples]
	if !ok || empty.Hint == "" {
		t.Fatalf("calm.mutex: no %s note with a hint: %+v", profiles.NoteNoSamples, notesOf(calm))
	}
	rt, ok := notesOf(inventory)[profiles.NoteRuntimeInternal]
	if !ok {
		t.Fatalf("inventory.mutex: no %s note: %+v", profiles.NoteRuntimeInternal, notesOf(inventory))
	}

	reportNotes := func(data []byte, origin string) []string {
		b := NewBuilder()
		if err := b.AddProfile(context.Background(), contention.KindMutex, data, contention.Source{Origin: origin, Path: "in.pb.gz"}); err != nil {
			t.Fatal(err)
		}
		return b.Build().Notes
	}
	for _, c := range []struct {
		origin   string
		wantHint bool
	}{
		{"agent", false}, {"test", false}, {"file", true}, {"url", true},
	} {
		notes := strings.Join(reportNotes(calm, c.origin), "\n")
		if !strings.Contains(notes, empty.Text) {
			t.Errorf("origin %s: notes %q lack %q", c.origin, notes, empty.Text)
		}
		if got := strings.Contains(notes, empty.Hint); got != c.wantHint {
			t.Errorf("origin %s: notes %q: hint %q shown = %v, want %v", c.origin, notes, empty.Hint, got, c.wantHint)
		}

		notes = strings.Join(reportNotes(inventory, c.origin), "\n")
		// The duration starts the text; the rest says what it is.
		what := rt.Text[strings.Index(rt.Text, " of "):]
		if strings.Contains(notes, what) {
			t.Errorf("origin %s: notes %q keep the runtime-internal total %q", c.origin, notes, what)
		}
	}
}

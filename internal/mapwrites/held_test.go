package mapwrites

import (
	"fmt"
	"testing"
)

// heldAt is the locks held at a marker, as "function mutex" strings.
func heldAt(ix *Index, m marker) []string {
	var out []string
	for _, h := range ix.Held(m.file, m.line) {
		s := fmt.Sprintf("%s %s", h.Function, h.Mutex)
		if h.Read {
			s += " (read)"
		}
		out = append(out, s)
	}
	return out
}

// The critical sections of the stuck fixtures: a lock is held on the lines
// after its Lock and before its Unlock (to the function's end after a
// deferred Unlock), not on the Lock line itself, and a goroutine literal
// has its own sections, not those of the statement that starts it.
func TestHeld(t *testing.T) {
	ix, ms := load(t, "stuck")
	for _, tc := range []struct {
		marker string
		want   []string
	}{
		{"transfer-lock-a", nil},
		{"transfer-lock-b", []string{"main.transfer a"}},
		{"audit-lock-a", []string{"main.audit b"}},
		{"flush-lock", nil},
		{"flush-wait", []string{"main.flush reg.mu"}},
		{"record-lock", nil},
		{"panic", []string{"main.settle mu"}},
		{"sections-outer-lock", nil},
		{"sections-inner-lock", nil},
		{"sections-inner-held", []string{"main.main.func1 mu"}},
		{"sections-outer-unlock", []string{"main.main mu"}},
		{"sections-after", nil},
	} {
		m, ok := ms[tc.marker]
		if !ok {
			t.Fatalf("no marker %s", tc.marker)
		}
		got := heldAt(ix, m)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s (%s:%d): held %q, want %q", tc.marker, m.file, m.line, got, tc.want)
		}
	}
	if got := ix.Held("stuck/deadlock/main.go", ms["transfer-lock-b"].line); len(got) != 1 {
		t.Errorf("Held by a relative path: %v, want the lock a", got)
	}
}

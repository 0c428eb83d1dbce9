package mapwrites

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

// realHotspots reads the recorded mutex and block profiles of a testdata
// program (testdata/profiles, written by the Go runtime) and moves their
// file paths onto this checkout.
func realHotspots(t *testing.T, name string) []contention.Hotspot {
	t.Helper()
	root := testutil.ModuleRoot(t)
	var out []contention.Hotspot
	for _, kind := range []string{"mutex", "block"} {
		p := filepath.Join(root, "testdata", "profiles", name+"."+kind+".pb.gz")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := profiles.AnalyzeBytes(context.Background(), data, p, "")
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, h := range r.Hotspots {
			if i := strings.Index(h.File, "/testdata/"); i >= 0 {
				h.File = filepath.Join(root, h.File[i+1:])
			}
			out = append(out, h)
		}
	}
	return out
}

// TestJoinRealProfiles joins the index with profiles the runtime wrote
// while the programs ran: the contended writes are found, and calm, whose
// locks never wait, gets no claim.
func TestJoinRealProfiles(t *testing.T) {
	for _, tc := range []struct {
		prog, profile string
		contended     []string
		calm          []string
	}{
		{"ledger", "ledger", []string{"hot-write"}, []string{"cold-write"}},
		{"rwcache", "rwcache", []string{"rw-write"}, nil},
		{"inventory", "inventory-noopt", []string{"store-write"}, nil},
		{"inventory", "inventory", []string{"store-write"}, nil},
		{"calm", "calm", nil, []string{"calm-write"}},
		{"handoff", "handoff", nil, nil},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			ix, ms := load(t, tc.prog)
			out := Join(ix.Writes(), ix.LockSites(), realHotspots(t, tc.profile), JoinOptions{})
			for _, w := range out {
				t.Logf("%s:%d %s guard=%s contended=%v waitNs=%d", filepath.Base(w.File), w.Line, w.Map, w.Guard, w.Contended, w.WaitNs)
			}
			for _, m := range tc.contended {
				w := findWrite(t, out, ms[m])
				if !w.Contended || w.WaitNs <= 0 {
					t.Errorf("%s: contended=%v waitNs=%d, want contended", m, w.Contended, w.WaitNs)
				}
				t.Logf("%s: %s waits %.1f ms", m, w.Guard, float64(w.WaitNs)/1e6)
			}
			for _, m := range tc.calm {
				if w := findWrite(t, out, ms[m]); w.Contended {
					t.Errorf("%s: contended with waitNs=%d, want no claim", m, w.WaitNs)
				}
			}
			if tc.prog == "handoff" {
				// vault is written under the contended vaultMu in withdraw
				// and (nested with ledgerMu) in transfer.
				for _, w := range out {
					if !w.Contended {
						t.Errorf("handoff: %s:%d not contended", w.File, w.Line)
					}
				}
			}
			if tc.prog == "calm" {
				for _, w := range out {
					if w.Contended {
						t.Errorf("calm: %s:%d claimed contended", w.File, w.Line)
					}
				}
			}
		})
	}
}

package mapwrites

import (
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/lockscope/lockscope/internal/testutil"
)

// BenchmarkLoad measures Load against its peer, a bare packages.Load of the
// same packages in the same mode: the ratio is the cost of the index on top
// of type-checking.
func BenchmarkLoad(b *testing.B) {
	dir := filepath.Join(testutil.ModuleRoot(b), "testdata", "mapwrites", "forms")
	mode := packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
		packages.NeedImports | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo
	var ours, peer []time.Duration
	runPeer := func() {
		t0 := time.Now()
		if _, err := packages.Load(&packages.Config{Mode: mode, Dir: dir}, "./..."); err != nil {
			b.Fatal(err)
		}
		peer = append(peer, time.Since(t0))
	}
	runOurs := func() {
		t0 := time.Now()
		if _, err := Load(dir, []string{"./..."}, nil); err != nil {
			b.Fatal(err)
		}
		ours = append(ours, time.Since(t0))
	}
	// Warm the go command's caches, then alternate the order so that
	// neither side always runs second.
	runPeer()
	peer = peer[:0]
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			runPeer()
			runOurs()
		} else {
			runOurs()
			runPeer()
		}
	}
	med := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	mo, mp := med(ours), med(peer)
	b.ReportMetric(float64(mo)/float64(mp), "x-packages.Load")
	b.Logf("median Load %v, packages.Load %v, ratio %.2f", mo, mp, float64(mo)/float64(mp))
}

// BenchmarkLoadTime measures how long the index takes to load (the median
// of b.N runs, after one to warm the go command's caches) on the ledger
// program and on the lrucache module with the two golang-lru packages it
// uses, whose source sits in the module cache; and, apart, the index's
// own passes over the already type-checked packages (build), which is
// what lockscope adds to go/packages.
func BenchmarkLoadTime(b *testing.B) {
	root := testutil.ModuleRoot(b)
	for _, tc := range []struct {
		name     string
		dir      string
		patterns func() ([]string, error)
	}{
		{"ledger", filepath.Join(root, "testdata", "ledger"), func() ([]string, error) {
			return programPackages(filepath.Join(root, "testdata", "ledger"), Options{})
		}},
		{"lrucache", filepath.Join(root, "testdata", "lrucache"), func() ([]string, error) { return lruPatterns, nil }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			load := func() {
				ps, err := tc.patterns()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Load(tc.dir, ps, nil); err != nil {
					b.Fatal(err)
				}
			}
			load()
			ps, err := tc.patterns()
			if err != nil {
				b.Fatal(err)
			}
			fset, pkgs, err := loadPackages(tc.dir, ps, Options{})
			if err != nil {
				b.Fatal(err)
			}
			var ds, bs []time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				load()
				ds = append(ds, time.Since(t0))
				t0 = time.Now()
				build(fset, pkgs)
				bs = append(bs, time.Since(t0))
			}
			med := func(d []time.Duration) time.Duration {
				sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
				return d[len(d)/2]
			}
			b.ReportMetric(float64(med(ds).Microseconds())/1000, "load-ms")
			b.ReportMetric(float64(med(bs).Microseconds())/1000, "index-ms")
			b.Logf("%s: median of %d: load %v, the index's passes %v", tc.name, len(ds), med(ds), med(bs))
		})
	}
}

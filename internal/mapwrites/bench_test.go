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
// uses, whose source sits in the module cache.
func BenchmarkLoadTime(b *testing.B) {
	root := testutil.ModuleRoot(b)
	for _, tc := range []struct {
		name string
		load func() (*Index, error)
	}{
		{"ledger", func() (*Index, error) {
			return LoadProgram(filepath.Join(root, "testdata", "ledger"), Options{})
		}},
		{"lrucache", func() (*Index, error) {
			return Load(filepath.Join(root, "testdata", "lrucache"), lruPatterns, nil)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := tc.load(); err != nil {
				b.Fatal(err)
			}
			var ds []time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := tc.load(); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Milliseconds()), "median-ms")
			b.Logf("%s: median of %d loads %v", tc.name, len(ds), ds[len(ds)/2])
		})
	}
}

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

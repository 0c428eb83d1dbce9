package profiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// TestRecordedHotspots checks, by marker, where the recorded profiles of the
// testdata programs put the contention.
func TestRecordedHotspots(t *testing.T) {
	const ledger = "testdata/ledger/main.go"
	const rwcache = "testdata/rwcache/main.go"
	const handoff = "testdata/handoff/main.go"
	const store = "testdata/inventory/store/store.go"
	const storeFn = "github.com/lockscope/lockscope/testdata/inventory/store.(*Store).Add"

	type want struct {
		rel, fn, prim, method string
		line                  int
	}
	check := func(t *testing.T, h contention.Hotspot, w want) {
		t.Helper()
		if relPath(h.File) != w.rel || h.Line != w.line {
			t.Errorf("hotspot at %s:%d, want %s:%d", relPath(h.File), h.Line, w.rel, w.line)
		}
		if h.Function != w.fn || h.Primitive != w.prim || h.Method != w.method {
			t.Errorf("hotspot %s %s.%s, want %s %s.%s", h.Function, h.Primitive, h.Method, w.fn, w.prim, w.method)
		}
		if h.Lock != contention.IsLockPrimitive(w.prim) {
			t.Errorf("Lock = %v for %s", h.Lock, w.prim)
		}
		if h.DelayNs <= 0 || h.Count <= 0 || len(h.Stacks) == 0 {
			t.Errorf("hotspot %s:%d has delay %d count %d and %d stacks", w.rel, w.line, h.DelayNs, h.Count, len(h.Stacks))
		}
	}

	t.Run("ledger", func(t *testing.T) {
		m := analyzeRecorded(t, "ledger", contention.KindMutex)
		hotUnlock := testutil.MarkerLine(t, ledger, "hot-unlock")
		check(t, m.Hotspots[0], want{ledger, "main.deposit", contention.PrimMutex, "Unlock", hotUnlock})
		if m.Hotspots[0].Share < 0.9 {
			t.Errorf("hot-unlock share = %.3f, want > 0.9", m.Hotspots[0].Share)
		}
		b := analyzeRecorded(t, "ledger", contention.KindBlock)
		lock := lineBefore(t, ledger, testutil.MarkerLine(t, ledger, "hot-write"), "balMu.Lock()")
		check(t, b.Hotspots[0], want{ledger, "main.deposit", contention.PrimMutex, "Lock", lock})
		// The auditor's select on time.After is shown, after the locks, and
		// never called lock contention.
		last := b.Hotspots[len(b.Hotspots)-1]
		if last.Primitive != contention.PrimSelect || last.Lock || last.Function != "main.main.func3" {
			t.Errorf("last block hotspot = %s %s lock=%v, want main.main.func3's select", last.Function, last.Primitive, last.Lock)
		}
		// main parked in wg.Wait for the whole run is not a hotspot.
		for _, h := range b.Hotspots {
			if h.Function == "main.main" {
				t.Errorf("main.main is a hotspot: %+v", h)
			}
		}
		if len(b.Excluded) != 1 || b.Excluded[0].Function != "main.main" || b.Excluded[0].Primitive != contention.PrimWaitGroup {
			t.Errorf("excluded = %+v, want main.main's WaitGroup.Wait", b.Excluded)
		}
	})

	t.Run("ledger-trimpath", func(t *testing.T) {
		// Built with -trimpath: files are module-relative and the standard
		// library's are bare import paths, so GOROOT cannot be told from
		// the runtime's frames and the import-path rule decides.
		m := analyzeRecorded(t, "ledger-trimpath", contention.KindMutex)
		check(t, m.Hotspots[0], want{ledger, "main.deposit", contention.PrimMutex, "Unlock", testutil.MarkerLine(t, ledger, "hot-unlock")})
		if !strings.HasPrefix(m.Hotspots[0].File, "github.com/lockscope/lockscope/") {
			t.Errorf("file %q, want the module-relative path -trimpath records", m.Hotspots[0].File)
		}
		b := analyzeRecorded(t, "ledger-trimpath", contention.KindBlock)
		lock := lineBefore(t, ledger, testutil.MarkerLine(t, ledger, "hot-write"), "balMu.Lock()")
		check(t, b.Hotspots[0], want{ledger, "main.deposit", contention.PrimMutex, "Lock", lock})
		for _, h := range append(b.Hotspots, m.Hotspots...) {
			if !strings.HasPrefix(h.Function, "main.") {
				t.Errorf("standard-library hotspot %s in a -trimpath profile", h.Function)
			}
		}
	})

	t.Run("rwcache", func(t *testing.T) {
		m := analyzeRecorded(t, "rwcache", contention.KindMutex)
		check(t, m.Hotspots[0], want{rwcache, "main.(*Cache).Refresh", contention.PrimRWMutex, "Unlock", testutil.MarkerLine(t, rwcache, "rw-unlock")})
		runlock := lineBefore(t, rwcache, testutil.MarkerLine(t, rwcache, "rw-write"), "c.mu.RUnlock()")
		check(t, m.Hotspots[1], want{rwcache, "main.(*Cache).Get", contention.PrimRWMutex, "RUnlock", runlock})
		if len(m.RuntimeInternal) == 0 {
			t.Error("no runtime-internal contention, but the profile has runtime.unlock samples")
		}
		for _, h := range m.RuntimeInternal {
			if h.Primitive != PrimRuntime || h.Lock {
				t.Errorf("runtime-internal hotspot %s is %s lock=%v", h.Function, h.Primitive, h.Lock)
			}
		}
		b := analyzeRecorded(t, "rwcache", contention.KindBlock)
		rlock := lineBefore(t, rwcache, runlock, "c.mu.RLock()")
		check(t, b.Hotspots[0], want{rwcache, "main.(*Cache).Get", contention.PrimRWMutex, "RLock", rlock})
		lock := lineBefore(t, rwcache, testutil.MarkerLine(t, rwcache, "rw-write"), "c.mu.Lock()")
		check(t, b.Hotspots[1], want{rwcache, "main.(*Cache).Refresh", contention.PrimRWMutex, "Lock", lock})
	})

	t.Run("inventory", func(t *testing.T) {
		// Built without optimisation (as Delve builds), the deferred Unlock
		// runs in the compiler's .deferwrap1 at the defer line: it counts as
		// Add, and pprof's name is kept.
		m := analyzeRecorded(t, "inventory-noopt", contention.KindMutex)
		unlock := testutil.MarkerLine(t, store, "store-unlock")
		check(t, m.Hotspots[0], want{store, storeFn, contention.PrimMutex, "Unlock", unlock})
		if m.Hotspots[0].PprofFunction != storeFn+".deferwrap1" {
			t.Errorf("PprofFunction = %q, want the deferwrap1 name", m.Hotspots[0].PprofFunction)
		}
		// Optimised, the open-coded defer runs at the function's exit.
		o := analyzeRecorded(t, "inventory", contention.KindMutex)
		if h := o.Hotspots[0]; h.Function != storeFn || relPath(h.File) != store || h.Method != "Unlock" {
			t.Errorf("optimised top hotspot = %s %s:%d %s", h.Function, relPath(h.File), h.Line, h.Method)
		}
		b := analyzeRecorded(t, "inventory", contention.KindBlock)
		lock := lineBefore(t, store, unlock, "s.mu.Lock()")
		check(t, b.Hotspots[0], want{store, storeFn, contention.PrimMutex, "Lock", lock})
	})

	t.Run("handoff", func(t *testing.T) {
		m := analyzeRecorded(t, "handoff", contention.KindMutex)
		for _, w := range []want{
			{handoff, "main.reconcile", contention.PrimMutex, "Unlock", testutil.MarkerLine(t, handoff, "chain-last-unlock")},
			{handoff, "main.auditor", contention.PrimMutex, "Unlock", testutil.MarkerLine(t, handoff, "chain-holder")},
			{handoff, "main.transfer", contention.PrimMutex, "Unlock", testutil.MarkerLine(t, handoff, "chain-middle-unlock")},
		} {
			check(t, find(t, m.Hotspots, w.rel, w.line), w)
		}
		b := analyzeRecorded(t, "handoff", contention.KindBlock)
		for _, w := range []want{
			{handoff, "main.withdraw", contention.PrimMutex, "Lock", testutil.MarkerLine(t, handoff, "chain-waiter")},
			{handoff, "main.transfer", contention.PrimMutex, "Lock", testutil.MarkerLine(t, handoff, "chain-middle")},
			{handoff, "main.reconcile", contention.PrimMutex, "Lock", testutil.MarkerLine(t, handoff, "chain-last-wait")},
		} {
			check(t, find(t, b.Hotspots, w.rel, w.line), w)
		}
	})

	t.Run("testwait", func(t *testing.T) {
		const src = "testdata/profiles/testwait/wait_test.go"
		const fn = "github.com/lockscope/lockscope/testdata/profiles/testwait.TestWorkers"
		m := analyzeRecorded(t, "testwait", contention.KindMutex)
		check(t, m.Hotspots[0], want{src, fn + ".func1", contention.PrimMutex, "Unlock", testutil.MarkerLine(t, src, "test-unlock")})
		b := analyzeRecorded(t, "testwait", contention.KindBlock)
		check(t, b.Hotspots[0], want{src, fn + ".func1", contention.PrimMutex, "Lock", testutil.MarkerLine(t, src, "test-lock")})
		// The test function's wg.Wait (called by testing.tRunner) and the
		// generated test main's wait for the test are not hotspots.
		find(t, b.Excluded, src, testutil.MarkerLine(t, src, "test-wait"))
		var mainWait bool
		for _, h := range b.Excluded {
			mainWait = mainWait || (h.Function == "main.main" && h.Primitive == contention.PrimChan)
		}
		if !mainWait || len(b.Hotspots) != 1 {
			t.Errorf("hotspots %d, excluded %+v: want only the Lock line, with main.main's channel wait excluded", len(b.Hotspots), b.Excluded)
		}
	})

	t.Run("calm", func(t *testing.T) {
		m := analyzeRecorded(t, "calm", contention.KindMutex)
		b := analyzeRecorded(t, "calm", contention.KindBlock)
		if len(m.Hotspots)+len(b.Hotspots) != 0 {
			t.Errorf("calm has hotspots: %+v %+v", m.Hotspots, b.Hotspots)
		}
		if len(m.Notes) == 0 || m.Notes[0].Code != NoteNoSamples {
			t.Errorf("calm mutex notes = %q, want a note that nothing was recorded", m.Notes)
		}
	})
}

// TestInvariants holds for every recorded profile: no negative numbers,
// shares of one kind sum to at most 1, flat <= cumulative, and the parts add
// up to the profile's total.
func TestInvariants(t *testing.T) {
	for _, rc := range recorded {
		t.Run(rc.prog+"."+rc.kind, func(t *testing.T) {
			r := analyzeRecorded(t, rc.prog, rc.kind)
			if r.Kind != rc.kind {
				t.Errorf("kind = %s, want %s", r.Kind, rc.kind)
			}
			var sum int64
			for _, part := range [][]contention.Hotspot{r.Hotspots, r.RuntimeInternal, r.Excluded} {
				share := map[bool]float64{}
				for _, h := range part {
					if h.DelayNs < 0 || h.CumDelayNs < 0 || h.Count < 0 || h.Share < 0 {
						t.Errorf("negative value in %+v", h)
					}
					if h.CumDelayNs < h.DelayNs {
						t.Errorf("%s:%d cum %d < flat %d", h.File, h.Line, h.CumDelayNs, h.DelayNs)
					}
					if h.Kind != rc.kind {
						t.Errorf("%s:%d kind %s", h.File, h.Line, h.Kind)
					}
					share[h.Lock] += h.Share
					sum += h.DelayNs
				}
				// At most 1 on each side: lock waits, other waits.
				if share[true] > 1+1e-9 || share[false] > 1+1e-9 {
					t.Errorf("shares sum to %v > 1", share)
				}
			}
			if sum != r.TotalDelayNs {
				t.Errorf("hotspots+runtime+excluded = %d, total = %d", sum, r.TotalDelayNs)
			}
			// Locks rank first.
			seenNonLock := false
			for _, h := range r.Hotspots {
				if !h.Lock {
					seenNonLock = true
				} else if seenNonLock {
					t.Errorf("lock hotspot %s:%d ranks after a non-lock one", h.File, h.Line)
				}
			}
		})
	}
}

func TestDetectKind(t *testing.T) {
	for _, rc := range recorded {
		if rc.prog == "calm" {
			continue // the mutex profile is empty and the block one holds only main's wg.Wait
		}
		p, err := Parse(readProfile(t, rc.prog, rc.kind), rc.prog, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := DetectKind(context.Background(), p)
		if err != nil || got != rc.kind {
			t.Errorf("DetectKind(%s.%s) = %q, %v", rc.prog, rc.kind, got, err)
		}
		r, err := Analyze(context.Background(), p, "")
		if err != nil || r.Kind != rc.kind {
			t.Errorf("Analyze(%s.%s, \"\") kind = %q, %v", rc.prog, rc.kind, r.Kind, err)
		}
	}
	p, err := Parse(readProfile(t, "calm", contention.KindMutex), "calm", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := DetectKind(context.Background(), p); err == nil {
		t.Errorf("DetectKind(empty profile) = %q, want an error", k)
	}
}

// TestBadInput feeds hostile and wrong inputs: each must fail with an error
// that names the input, and never panic.
func TestBadInput(t *testing.T) {
	good := readProfile(t, "ledger", contention.KindMutex)
	raw := gunzipAll(t, good)
	cpu := readProfile(t, "ledger", "cpu")
	legacyText, err := os.ReadFile(filepath.Join(profilesDir, "ledger.mutex.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	garbage := make([]byte, 4096)
	rng.Read(garbage)

	cases := []struct {
		name string
		data []byte
		kind string
		want string // in the error
		is   error
	}{
		{"empty.pb.gz", nil, contention.KindMutex, "empty", nil},
		{"truncated.pb.gz", good[:len(good)/2], contention.KindMutex, "gzip", nil},
		{"truncated-header.pb.gz", good[:5], contention.KindMutex, "gzip", nil},
		{"truncated.pb", raw[:len(raw)*2/3], contention.KindMutex, "not a readable pprof profile", nil},
		{"garbage.bin", garbage, contention.KindMutex, "not a readable pprof profile", nil},
		{"text.txt", []byte("hello, this is not a profile\n"), contention.KindMutex, "not a readable pprof profile", nil},
		{"cpu-as-mutex.pb.gz", cpu, contention.KindMutex, "CPU profile", ErrWrongKind},
		{"block-as-mutex.pb.gz", readProfile(t, "ledger", contention.KindBlock), contention.KindMutex, "block profile", ErrWrongKind},
		{"mutex-as-block.pb.gz", good, contention.KindBlock, "mutex profile", ErrWrongKind},
		{"bad-kind.pb.gz", good, "heap", "unknown profile kind", nil},
		{"gzip-of-gzip-of-garbage", gz(t, gz(t, garbage)), "", "not a readable pprof profile", nil},
		{"legacy-text.txt", legacyText, contention.KindMutex, "debug=0", ErrNoSymbols},
		{"legacy-text-detect.txt", legacyText, "", "debug=0", ErrNoSymbols},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := AnalyzeBytes(context.Background(), c.data, c.name, c.kind)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to name %q and say %q", err, c.name, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
		})
	}
}

// TestGzipBomb: a small file that inflates past the limit fails as soon as
// the limit is passed, naming the input, without reading it all.
func TestGzipBomb(t *testing.T) {
	// Many gzip members of 1 MiB of zeros each: 300 MiB once inflated, a
	// few hundred KiB on disk.
	member := gz(t, make([]byte, 1<<20))
	bomb := bytes.Repeat(member, 300)
	t.Logf("bomb: %d bytes, inflates to 300 MiB", len(bomb))

	// The size limit alone (ratio check off), with a small limit to keep
	// the test cheap; then the defaults a user gets, where the ratio check
	// stops the bomb after 8 MiB rather than 256 MiB.
	for _, c := range []struct {
		name string
		opts Options
		want error
	}{
		{"bomb-1MiB-limit.pb.gz", Options{MaxDecompressed: 1 << 20, MaxRatio: -1}, ErrTooLarge},
		{"bomb-defaults.pb.gz", Options{}, ErrRatio},
	} {
		start := time.Now()
		_, err := Parse(bomb, c.name, c.opts)
		if err == nil {
			t.Fatalf("%s: parsed a bomb", c.name)
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("error %q, want %v naming %s", err, c.want, c.name)
		}
		t.Logf("%v after %v", err, time.Since(start))
	}

	// A genuine profile under a limit it fits in still parses.
	if _, err := Parse(readProfile(t, "ledger", contention.KindMutex), "ledger", Options{MaxDecompressed: 1 << 20}); err != nil {
		t.Errorf("genuine profile under a 1 MiB limit: %v", err)
	}
}

// TestUncompressed: the same profile as raw protobuf gives the same
// hotspots as the .pb.gz.
func TestUncompressed(t *testing.T) {
	good := readProfile(t, "rwcache", contention.KindMutex)
	want := analyzeRecorded(t, "rwcache", contention.KindMutex)
	got, err := AnalyzeBytes(context.Background(), gunzipAll(t, good), "rwcache.mutex.pb", contention.KindMutex)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Hotspots) != len(want.Hotspots) || got.TotalDelayNs != want.TotalDelayNs {
		t.Errorf("uncompressed: %d hotspots total %d, want %d total %d", len(got.Hotspots), got.TotalDelayNs, len(want.Hotspots), want.TotalDelayNs)
	}
}

// TestHostileValues: negative and huge sample values do not produce
// negative delays or wrap around.
func TestHostileValues(t *testing.T) {
	p, err := Parse(readProfile(t, "ledger", contention.KindMutex), "ledger", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s0 := p.Sample[0]
	neg := &profile.Sample{Location: s0.Location, Value: []int64{-5, -1 << 40}}
	huge := &profile.Sample{Location: s0.Location, Value: []int64{1, 1<<63 - 1}}
	p.Sample = append(p.Sample, neg, huge)
	r, err := Analyze(context.Background(), p, contention.KindMutex)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range r.Hotspots {
		if h.DelayNs < 0 || h.CumDelayNs < 0 || h.Share < 0 || h.Share > 1 {
			t.Errorf("hostile values leaked: %+v", h)
		}
	}
	if r.TotalDelayNs < 0 {
		t.Errorf("total wrapped: %d", r.TotalDelayNs)
	}
	found := false
	for _, n := range r.Notes {
		found = found || n.Code == NoteNegativeValues && strings.Contains(n.Text, "1 samples")
	}
	if !found {
		t.Errorf("notes %q do not mention the skipped negative sample", r.Notes)
	}
}

// TestMalformedTables: a profile whose tables are broken (a duplicate
// location ID, a sample naming a location that does not exist) is refused by
// the fast decoder and then by pprof's parser, with an error naming it.
func TestMalformedTables(t *testing.T) {
	for _, c := range []struct {
		name   string
		mangle func(p *profile.Profile)
	}{
		{"duplicate-location.pb.gz", func(p *profile.Profile) {
			dup := *p.Location[0]
			p.Location = append(p.Location, &dup)
		}},
		{"missing-location.pb.gz", func(p *profile.Profile) {
			p.Location = p.Location[1:]
		}},
	} {
		p, err := Parse(readProfile(t, "ledger", contention.KindMutex), "ledger", Options{})
		if err != nil {
			t.Fatal(err)
		}
		c.mangle(p)
		var buf bytes.Buffer
		if err := p.Write(&buf); err != nil {
			t.Fatal(err)
		}
		_, err = AnalyzeBytes(context.Background(), buf.Bytes(), c.name, contention.KindMutex)
		if err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v, want one naming the input", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzipAll(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

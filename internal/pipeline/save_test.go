package pipeline

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// loaded returns a pipeline fed the recorded ledger profiles and trace.
func loaded(t *testing.T) *Pipeline {
	t.Helper()
	root := testutil.ModuleRoot(t)
	p := New()
	for _, f := range []struct{ path, kind string }{
		{filepath.Join(root, "testdata", "profiles", "ledger.mutex.pb.gz"), contention.KindMutex},
		{filepath.Join(root, "testdata", "profiles", "ledger.block.pb.gz"), contention.KindBlock},
		{filepath.Join(root, "testdata", "traces", "ledger.trace"), contention.KindTrace},
	} {
		part, err := p.LoadFile(context.Background(), f.path, f.kind)
		if err != nil {
			t.Fatal(err)
		}
		p.Add(part)
	}
	return p
}

// essence is what a capture must reproduce: every hotspot's place and
// value, and every chain.
func essence(r *contention.Report) (hs []string, chains []string) {
	for _, h := range r.Hotspots {
		hs = append(hs, strings.Join([]string{h.Kind, h.File, h.Function, itoa(h.Line), itoa(int(h.DelayNs)), itoa(int(h.Count))}, "|"))
	}
	for _, c := range r.Chains {
		b, _ := json.Marshal(c)
		chains = append(chains, string(b))
	}
	return hs, chains
}

func itoa(n int) string { return strconv.Itoa(n) }

// A saved capture read back and added to a new pipeline gives the same
// hotspots and chains: the profiles are analysed anew from their raw
// bytes, the trace comes back from its summary.
func TestCaptureRoundTrip(t *testing.T) {
	p := loaded(t)
	want := p.Build()
	var buf bytes.Buffer
	info := contention.Capture{Program: "ledger", Settings: map[string]string{"mode": "files"}}
	if err := p.Save(&buf, info, want); err != nil {
		t.Fatal(err)
	}
	c, err := ReadCapture(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ProfilesOf(contention.KindMutex)) != 1 || len(c.ProfilesOf(contention.KindBlock)) != 1 || len(c.Traces) != 1 {
		t.Fatalf("capture holds %d profiles and %d traces, want one of each kind", len(c.Profiles), len(c.Traces))
	}
	if c.Info.Program != "ledger" || c.Info.Lockscope == "" || c.Info.Time.IsZero() || c.Info.Settings["mode"] != "files" {
		t.Errorf("capture info %+v: want the program, settings, a time and lockscope's version", c.Info)
	}
	q := New()
	n, err := q.AddCapture(context.Background(), c)
	if err != nil || n != 3 {
		t.Fatalf("AddCapture: %d inputs, %v; want 3", n, err)
	}
	got := q.Build()
	wh, wc := essence(want)
	gh, gc := essence(got)
	if !reflect.DeepEqual(wh, gh) {
		t.Errorf("hotspots after the round trip:\n got %q\nwant %q", gh, wh)
	}
	if !reflect.DeepEqual(wc, gc) || len(wc) == 0 {
		t.Errorf("chains after the round trip:\n got %q\nwant %q", gc, wc)
	}
	wr, _ := essence(c.Report)
	if !reflect.DeepEqual(wr, wh) {
		t.Errorf("the saved report differs from the one given to Save")
	}
	// The capture keeps the function starts of the report's lines, read
	// from the source when it is saved: the ledger's deposit begins on its
	// func line. The recorded inputs name the files where they were
	// recorded, so the report points the deposit hotspot at this checkout.
	main := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger", "main.go")
	write := testutil.MarkerLine(t, main, "hot-write")
	here := *want
	here.Hotspots = append([]contention.Hotspot(nil), want.Hotspots...)
	found := false
	for i, h := range here.Hotspots {
		if h.Function == "main.deposit" {
			here.Hotspots[i].File, found = main, true
		}
	}
	if !found {
		t.Fatal("no hotspot in main.deposit in the recorded ledger inputs")
	}
	buf.Reset()
	if err := p.Save(&buf, info, &here); err != nil {
		t.Fatal(err)
	}
	c, err = ReadCapture(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Starts.Start(main, write+2), write-2; got != want {
		t.Errorf("start of the function around main.go:%d = %d, want %d (deposit's func line)", write+2, got, want)
	}
}

// The pipeline keeps exactly the raw profiles that are in the report: a
// Replace drops the kind's earlier ones, Clear drops all, and a profile
// analysed but never added is not saved.
func TestKeptFollowsTheReport(t *testing.T) {
	root := testutil.ModuleRoot(t)
	mutex, err := os.ReadFile(filepath.Join(root, "testdata", "profiles", "ledger.mutex.pb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(filepath.Join(root, "testdata", "profiles", "rwcache.mutex.pb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := New()
	count := func() (profs [][]byte) {
		var buf bytes.Buffer
		if err := p.Save(&buf, contention.Capture{}, nil); err != nil {
			t.Fatal(err)
		}
		c, err := ReadCapture(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range c.Profiles {
			profs = append(profs, sp.Data)
		}
		return profs
	}
	a, _ := p.Profile(ctx, contention.KindMutex, mutex, contention.Source{})
	p.Add(a)
	b, _ := p.Profile(ctx, contention.KindMutex, other, contention.Source{})
	p.Add(b)
	if got := count(); len(got) != 2 || !bytes.Equal(got[0], mutex) || !bytes.Equal(got[1], other) {
		t.Fatalf("after two Adds: %d profiles kept, want both in order", len(got))
	}
	c, _ := p.Profile(ctx, contention.KindMutex, other, contention.Source{})
	p.Replace(c)
	if got := count(); len(got) != 1 || !bytes.Equal(got[0], other) {
		t.Fatalf("after a Replace: %d profiles kept, want the replacing one only", len(got))
	}
	if _, err := p.Profile(ctx, contention.KindMutex, mutex, contention.Source{}); err != nil {
		t.Fatal(err)
	}
	if got := count(); len(got) != 1 {
		t.Fatalf("a profile analysed but not added was kept: %d profiles", len(got))
	}
	p.Clear()
	if got := count(); len(got) != 0 {
		t.Fatalf("after Clear: %d profiles kept", len(got))
	}
}

// zipOf builds a zip from names and contents, in order.
func zipOf(t testing.TB, files ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f[0], Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const goodManifest = `{"format":"lockscope-capture","version":1,"capture":{"time":"2026-12-01T00:00:00Z"}}`

// Hostile or broken capture files get an error that says what is wrong,
// and nothing is read past the limits.
func TestReadCaptureRefuses(t *testing.T) {
	// 64 MiB of zeros deflate to 64 KiB: a manifest that would fill the
	// memory when inflated.
	bomb := strings.Repeat("\x00", 16*maxManifest)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not a zip", []byte("mutex profile, honest"), "not a lockscope capture"},
		{"no manifest", zipOf(t, [2]string{"report.json", "{}"}), "has no manifest.json"},
		{"traversal", zipOf(t, [2]string{"../../etc/passwd", "x"}, [2]string{"manifest.json", goodManifest}), "unsafe name"},
		{"absolute", zipOf(t, [2]string{"/etc/passwd", "x"}), "unsafe name"},
		{"duplicate", zipOf(t, [2]string{"manifest.json", goodManifest}, [2]string{"manifest.json", goodManifest}), "twice"},
		{"huge manifest", zipOf(t, [2]string{"manifest.json", `{"format":"` + strings.Repeat("a", maxManifest) + `"}`}), "MiB lockscope reads"},
		{"bomb", zipOf(t, [2]string{"manifest.json", bomb}), "MiB lockscope reads"},
		{"other format", zipOf(t, [2]string{"manifest.json", `{"format":"zipped-photos","version":1}`}), "not a lockscope capture"},
		{"newer version", zipOf(t, [2]string{"manifest.json", `{"format":"lockscope-capture","version":7,"capture":{"lockscope":"v9.1.0"}}`}),
			"made by lockscope v9.1.0 in capture format 7"},
		{"profile outside", zipOf(t, [2]string{"manifest.json", `{"format":"lockscope-capture","version":1,"profiles":[{"name":"manifest.json","kind":"mutex"}]}`},
			[2]string{"report.json", "{}"}), "not a capture's file name"},
		{"unknown kind", zipOf(t, [2]string{"manifest.json", `{"format":"lockscope-capture","version":1,"capture":{"lockscope":"v0.0.9"},"profiles":[{"name":"profiles/x","kind":"cpu"}]}`},
			[2]string{"report.json", "{}"}, [2]string{"profiles/x", "x"}), "unknown profile kind \"cpu\" (in a capture made by lockscope v0.0.9)"},
		{"bad trace summary", zipOf(t, [2]string{"manifest.json", `{"format":"lockscope-capture","version":1,"traces":[{"name":"traces/t.json"}]}`},
			[2]string{"report.json", "{}"}, [2]string{"traces/t.json", `{"kinds":["shell"],"source":{"kind":"trace"}}`}), "unknown kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCapture(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// A zip whose header understates an entry's size is still held to the
// limit: the stream is counted, not the header.
func TestReadCaptureCountsTheStream(t *testing.T) {
	data := zipOf(t, [2]string{"manifest.json", goodManifest + strings.Repeat(" ", maxManifest)})
	// Patch the central directory's uncompressed size (at offset 24 of
	// its record) to 10 bytes.
	cd := bytes.LastIndex(data, []byte("PK\x01\x02"))
	copy(data[cd+24:cd+28], []byte{10, 0, 0, 0})
	_, err := ReadCapture(bytes.NewReader(data), int64(len(data)))
	if err == nil || !strings.Contains(err.Error(), "zip bomb") && !strings.Contains(err.Error(), "zip:") {
		t.Fatalf("error %v, want the stream held to the limit", err)
	}
}

// GitCommit reads the commit from .git as `git rev-parse HEAD` gives it,
// from a subdirectory of the repository too, and after the refs are
// packed. The repository is made here, so the test does not depend on how
// the checkout it runs in was made.
func TestGitCommit(t *testing.T) {
	repo := t.TempDir()
	gitIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=lockscope", "-c", "user.email=test@lockscope.invalid"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitIn("init", "-q")
	sub := filepath.Join(repo, "cmd", "app")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn("add", ".")
	gitIn("commit", "-q", "-m", "first")
	want := gitIn("rev-parse", "HEAD")
	if got := GitCommit(sub); got != want {
		t.Errorf("GitCommit = %q, want %q (git rev-parse HEAD)", got, want)
	}
	gitIn("pack-refs", "--all")
	if got := GitCommit(sub); got != want {
		t.Errorf("GitCommit after pack-refs = %q, want %q", got, want)
	}
	if got := GitCommit(t.TempDir()); got != "" {
		t.Errorf("GitCommit outside a repository = %q, want none", got)
	}
}

// FuzzReadCapture: no input makes the reader panic or read past its
// limits; whatever it accepts, it accepts whole.
func FuzzReadCapture(f *testing.F) {
	p := New()
	root := testutil.ModuleRoot(f)
	mutex, err := os.ReadFile(filepath.Join(root, "testdata", "profiles", "handoff.mutex.pb.gz"))
	if err != nil {
		f.Fatal(err)
	}
	part, err := p.Profile(context.Background(), contention.KindMutex, mutex, contention.Source{})
	if err != nil {
		f.Fatal(err)
	}
	p.Add(part)
	var buf bytes.Buffer
	if err := p.Save(&buf, contention.Capture{Program: "handoff"}, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(zipOf(f, [2]string{"manifest.json", goodManifest}, [2]string{"report.json", "{}"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCapture(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if c.Report == nil {
			t.Fatal("a capture accepted without a report")
		}
		q := New()
		_, _ = q.AddCapture(context.Background(), c)
		q.Build()
	})
}

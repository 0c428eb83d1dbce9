package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// helperEnv makes this test binary an index helper (TestMain).
const helperEnv = "LOCKSCOPE_PIPELINE_TEST_HELPER"

// testHelper is IndexOptions.Helper for the tests: this test binary, as
// `lockscope __index` is for the adapter.
func testHelper() *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	return cmd
}

// indexReport runs one StartIndex with o and returns the report once the
// index is in, with the times that differ from run to run cleared.
func indexReport(t *testing.T, dir string, o IndexOptions) *contention.Report {
	t.Helper()
	freshCache(t) // a load, never the entry an earlier load left
	p := New()
	defer p.Close()
	p.StartIndex(dir, o, nil)
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up")
	}
	r := p.Build()
	for i := range r.Sources {
		r.Sources[i].Time = time.Time{}
	}
	return r
}

// The index a helper loads is the index loaded in this process, field for
// field, and so is the report built on it, for the programs the cache's
// tests use: a multi-package module with a local replace, a test package,
// a build tag. A failed load says the same too.
func TestHelperIndexEqualsInProcess(t *testing.T) {
	failing := indexProgram{filepath.Join(testutil.ModuleRoot(t), "testdata", "no-such-program"), IndexOptions{}}
	for _, tc := range append(indexPrograms(t), failing) {
		name := fmt.Sprintf("%s %+v", filepath.Base(tc.dir), tc.o)
		want := indexReport(t, tc.dir, tc.o)
		o := tc.o
		o.Helper = testHelper
		got := indexReport(t, tc.dir, o)
		if !reflect.DeepEqual(got, want) {
			a, _ := json.Marshal(want)
			b, _ := json.Marshal(got)
			t.Errorf("%s: the helper's report differs:\nin process %s\nhelper     %s", name, a, b)
		}
		if !strings.HasPrefix(name, "no-such") && len(got.MapWrites) == 0 {
			t.Errorf("%s: no map writes: the comparison proves little", name)
		}
	}
}

// The helper's load is cached as the adapter's is: the next F5 runs no go
// command and starts no helper.
func TestHelperLoadIsCached(t *testing.T) {
	runs := goLog(t)
	app, _ := cacheModule(t)
	first, _ := indexed(t, app, IndexOptions{Helper: testHelper})
	if n := runs(); n < 2 {
		t.Fatalf("first F5: %d go commands ran; the index was not loaded", n)
	}
	started := false
	second, quick := indexed(t, app, IndexOptions{Helper: func() *exec.Cmd { started = true; return testHelper() }})
	if n := runs(); n != 0 || started || !quick {
		t.Errorf("second F5: %d go commands, helper started %v, WaitIndexCommands at once %v; want 0, false, true", n, started, quick)
	}
	if len(first.MapWrites) == 0 || !reflect.DeepEqual(first.MapWrites, second.MapWrites) {
		t.Errorf("the cached index differs:\nfirst  %q\nsecond %q", writeKeys(first), writeKeys(second))
	}
}

// A helper that cannot start leaves the load to this process; one that
// breaks says so in the report, and a truncated result is never taken for
// an index.
func TestHelperFailures(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	sh := func(script string) func() *exec.Cmd {
		return func() *exec.Cmd { return exec.Command("/bin/sh", "-c", script) }
	}
	for _, tc := range []struct {
		name   string
		helper func() *exec.Cmd
		note   string // "" when the index must load
	}{
		{"missing", func() *exec.Cmd { return exec.Command(filepath.Join(t.TempDir(), "no-such-helper")) }, ""},
		{"silent", sh("read req; exit 3"), "map writes were not indexed: the index helper failed: it ended without a result"},
		{"panics", sh("read req; echo 'panic: boom' >&2; exit 2"), "it ended without a result: panic: boom"},
		// 'R', then a length of 100 and 3 bytes.
		{"truncated", sh(`read req; printf 'R\000\000\000\144abc'`), "the index helper failed: unexpected EOF"},
		{"unknown frame", sh(`read req; printf 'X\000\000\000\000'`), `the index helper wrote a frame of kind 'X'`},
	} {
		if _, err := os.Stat("/bin/sh"); err != nil && tc.name != "missing" {
			continue
		}
		r := indexReport(t, dir, IndexOptions{Helper: tc.helper})
		notes := strings.Join(r.Notes, "\n")
		if tc.note == "" {
			if len(r.MapWrites) == 0 {
				t.Errorf("%s: no map writes; notes %q", tc.name, notes)
			}
			continue
		}
		if len(r.MapWrites) != 0 || !strings.Contains(notes, tc.note) {
			t.Errorf("%s: %d map writes, notes %q; want none and a note with %q", tc.name, len(r.MapWrites), notes, tc.note)
		}
	}
}

// readFrame takes a frame only whole.
func TestReadFrame(t *testing.T) {
	var buf bytes.Buffer
	if err := writeFrame(&buf, frameResult, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	whole := buf.Bytes()
	kind, payload, err := readFrame(bytes.NewReader(whole))
	if err != nil || kind != frameResult || string(payload) != "payload" {
		t.Fatalf("readFrame = %q %q %v, want 'R' \"payload\"", kind, payload, err)
	}
	for n := 1; n < len(whole); n++ {
		if _, _, err := readFrame(bytes.NewReader(whole[:n])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("the first %d bytes of a frame: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
	if _, _, err := readFrame(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("no frame: %v, want io.EOF", err)
	}
	if _, _, err := readFrame(bytes.NewReader([]byte{'R', 0xff, 0xff, 0xff, 0xff})); err == nil {
		t.Error("a 4 GiB frame was accepted")
	}
}

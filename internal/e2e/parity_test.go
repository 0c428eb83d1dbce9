package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
)

// The session and `lockscope analyze` are two drivers of one pipeline: the
// same recorded inputs, with the same program's source index, give the
// same report through either, apart from the times the inputs were read.
// A DAP session launches testdata/ledger with capture off (so that only
// the files feed it), loads the recorded profiles and trace with
// lockscope/load and asks for lockscope/report; analyze gets the same
// files with --load and the same package to index.
func TestSessionAndAnalyzeGiveTheSameReport(t *testing.T) {
	t.Parallel()
	files := []string{
		filepath.Join(moduleRoot, "testdata", "profiles", "ledger.mutex.pb.gz"),
		filepath.Join(moduleRoot, "testdata", "profiles", "ledger.block.pb.gz"),
		filepath.Join(moduleRoot, "testdata", "traces", "ledger.trace"),
	}
	program := testdataDir("ledger")

	args := []string{"analyze", "--json"}
	for _, f := range files {
		args = append(args, "--load", f)
	}
	cmd := exec.Command(lockscopeBin, append(args, program)...)
	cmd.Dir = moduleRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, stderr.String())
	}
	var cli contention.Report
	if err := json.Unmarshal(out, &cli); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, out)
	}

	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": program, "stopOnEntry": true,
		"lockscope": map[string]any{"capture": "off"}})
	c.Call(t, "configurationDone", nil)
	c.Stopped(t)
	// configurationDone waits only for the source index's go commands,
	// and the index type-checks once the program runs: compare with it in.
	if _, ok := c.Seen(2*time.Minute, func(m daptest.Message) bool {
		return m.Event == dapx.EventReport && bytes.Contains(m.Raw, []byte(`"kind":"source"`))
	}); !ok {
		t.Fatal("the source index never joined the session's report")
	}
	for _, f := range files {
		c.Call(t, dapx.CommandLoad, map[string]any{"path": f})
	}
	var dap contention.Report
	c.Call(t, dapx.CommandReport, nil).Decode(t, &dap)
	c.Send("disconnect", map[string]any{"terminateDebuggee": true})
	c.WaitFor(t, "the disconnect response", 30*time.Second, func(m daptest.Message) bool {
		return m.Type == "response" && m.Command == "disconnect"
	})

	if len(cli.MapWrites) == 0 || len(cli.Hotspots) == 0 || len(cli.Chains) == 0 {
		t.Fatalf("analyze found %d hotspots, %d chains, %d map writes: the comparison would prove little",
			len(cli.Hotspots), len(cli.Chains), len(cli.MapWrites))
	}
	got, want := normalized(t, &dap), normalized(t, &cli)
	if !bytes.Equal(got, want) {
		t.Errorf("the session's report differs from analyze's\nsession: %s\nanalyze: %s", got, want)
	}
}

// normalized is a report as JSON, without the times its inputs were read
// at, and with its sources in a fixed order (inputs arrive concurrently).
func normalized(t *testing.T, r *contention.Report) []byte {
	t.Helper()
	c := *r
	c.Sources = nil
	for _, s := range r.Sources {
		s.Time = time.Time{}
		c.Sources = append(c.Sources, s)
	}
	// The index loads while files arrive: where it lands among the
	// sources is a matter of timing, not of content.
	sort.SliceStable(c.Sources, func(i, j int) bool {
		a, b := c.Sources[i], c.Sources[j]
		return a.Kind+"\x00"+a.Path+a.URL < b.Kind+"\x00"+b.Path+b.URL
	})
	b, err := json.MarshalIndent(&c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A capture saved by analyze --save loads in a session as it loads in
// analyze: the same hotspots.
func TestSessionLoadsASavedCapture(t *testing.T) {
	t.Parallel()
	saved := filepath.Join(t.TempDir(), "ledger.zip")
	args := []string{"analyze", "--json", "--save", saved,
		"--load", filepath.Join(moduleRoot, "testdata", "profiles", "ledger.mutex.pb.gz"),
		"--load", filepath.Join(moduleRoot, "testdata", "profiles", "ledger.block.pb.gz")}
	cmd := exec.Command(lockscopeBin, args...)
	cmd.Dir = moduleRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("analyze --save: %v\n%s", err, stderr.String())
	}
	var cli contention.Report
	if err := json.Unmarshal(out, &cli); err != nil {
		t.Fatal(err)
	}
	a := startAdapter(t)
	initialize(t, a.c)
	var dap contention.Report
	a.c.Call(t, dapx.CommandLoad, map[string]any{"path": saved}).Decode(t, &dap)
	if len(cli.Hotspots) == 0 {
		t.Fatal("analyze found no hotspots: the comparison would prove nothing")
	}
	got, want := hotspotLines(dap.Hotspots), hotspotLines(cli.Hotspots)
	if got != want {
		t.Errorf("the session's hotspots from the capture:\n%s\nanalyze's:\n%s", got, want)
	}
}

func hotspotLines(hs []contention.Hotspot) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s %s:%d %d\n", h.Kind, filepath.Base(h.File), h.Line, h.DelayNs)
	}
	return b.String()
}

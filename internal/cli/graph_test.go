//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// These tests run programs with the capture agent, which needs a named
// pipe (see capture/fifo_unix.go).

package cli

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// --graph takes .svg, .dot and .gv, and refuses any other name while the
// flags are parsed.
func TestGraphFlag(t *testing.T) {
	for _, c := range []struct {
		arg, want string
		ok        bool
	}{{"out.svg", "out.svg", true}, {"g.DOT", "g.DOT", true}, {"g.gv", "g.gv", true}, {"g.png", "", false}, {"graph", "", false}} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var got string
		graphFlag(fs, &got)
		err := fs.Parse([]string{"--graph", c.arg})
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("--graph %s: %q, %v; want %q, ok %v", c.arg, got, err, c.want, c.ok)
		}
	}
}

// writeGraph names the locks from the source: the handoff report (paths
// mapped from the fixture's /workspace to this checkout) gives an SVG whose
// nodes say vaultMu, ledgerMu and auditMu.
func TestWriteGraph(t *testing.T) {
	root := testutil.ModuleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "extension", "test", "fixtures", "handoff.json"))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "/workspace/", root+"/"))
	var r contention.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "g.svg")
	if err := writeGraph(out, &r); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s is not well-formed: %v", out, err)
		}
	}
	for _, lock := range []string{"vaultMu.Lock()", "ledgerMu.Lock()", "auditMu.Lock()", "auditMu.Unlock()"} {
		if !strings.Contains(string(svg), ">"+lock+"<") {
			t.Errorf("the SVG names no %s", lock)
		}
	}
}

// `lockscope analyze --graph FILE.svg` on the handoff program writes the
// graph of the run: the three Lock lines of the chain, named by their
// locks, joined in the chain's order, as well as the report on stdout.
func TestAnalyzeGraph(t *testing.T) {
	dir := fixture(t, "handoff")
	out := filepath.Join(t.TempDir(), "handoff.svg")
	r := analyze(t, "--duration", "2s", "--trace-seconds", "1", "--graph", out, dir)
	mustOK(t, r)
	if !strings.Contains(r.stderr, "wrote the waits-for graph to "+out) {
		t.Errorf("stderr does not say where the graph went:\n%s", r.stderr)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "main.go")
	ids := map[string]string{}
	for _, m := range []string{"chain-waiter", "chain-middle", "chain-last-wait"} {
		ids[m] = fmt.Sprintf("%s:%d", src, nearLine(t, src, 1, 1, "lockscope:"+m))
	}
	for _, e := range [][2]string{{"chain-waiter", "chain-middle"}, {"chain-middle", "chain-last-wait"}} {
		edge := fmt.Sprintf(`class="edge" data-from="%s" data-to="%s"`, ids[e[0]], ids[e[1]])
		if !strings.Contains(string(svg), edge) {
			t.Errorf("the SVG has no edge %s -> %s (%s)", e[0], e[1], edge)
		}
	}
	for _, lock := range []string{">vaultMu.Lock()<", ">ledgerMu.Lock()<", ">auditMu.Lock()<"} {
		if !strings.Contains(string(svg), lock) {
			t.Errorf("the SVG names no %s", lock)
		}
	}
}

// A --graph name with no known extension is a usage error, found before
// anything is built or run.
func TestAnalyzeGraphUsage(t *testing.T) {
	r := analyze(t, "--graph", filepath.Join(t.TempDir(), "g.png"), fixture(t, "handoff"))
	if r.code != ExitUsage || !strings.Contains(r.stderr, ".svg") || strings.Contains(r.stderr, "building") {
		t.Errorf("exit %d, want %d (usage), with the formats named and nothing built:\n%s", r.code, ExitUsage, r.stderr)
	}
}

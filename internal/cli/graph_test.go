package cli

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
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
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
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

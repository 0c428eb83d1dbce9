package graph

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// svgDoc is what the tests read back from an SVG.
type svgDoc struct {
	nodes []svgGroup
	edges []svgGroup
}

type svgGroup struct {
	class, id, from, to string
	texts               []string
	rect                box
	strokeWidth         float64
	stroke              string
	d                   string
	tip                 [2]float64
}

// parseSVG decodes every token (so a malformed file fails) and collects
// the node and edge groups.
func parseSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var doc svgDoc
	var cur *svgGroup
	var kind string
	inText := false
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Space + " " + x.Name.Local
			}
			a := map[string]string{}
			for _, at := range x.Attr {
				a[at.Name.Local] = at.Value
			}
			switch x.Name.Local {
			case "g":
				cls := strings.Fields(a["class"])
				if len(cls) > 0 && (cls[0] == "node" || cls[0] == "edge") {
					kind = cls[0]
					cur = &svgGroup{class: a["class"], id: a["data-id"], from: a["data-from"], to: a["data-to"]}
				}
			case "rect":
				if cur != nil {
					cur.rect = box{num(t, a["x"]), num(t, a["y"]), num(t, a["width"]), num(t, a["height"])}
				}
			case "path":
				if cur != nil {
					cur.strokeWidth = num(t, a["stroke-width"])
					cur.stroke = a["stroke"]
					cur.d = a["d"]
				}
			case "polygon":
				if cur != nil {
					pt := strings.Split(strings.Fields(a["points"])[0], ",")
					cur.tip = [2]float64{num(t, pt[0]), num(t, pt[1])}
				}
			case "text":
				inText = cur != nil
			}
		case xml.CharData:
			if inText {
				cur.texts = append(cur.texts, string(x))
			}
		case xml.EndElement:
			switch x.Name.Local {
			case "text":
				inText = false
			case "g":
				if cur != nil {
					if kind == "node" {
						doc.nodes = append(doc.nodes, *cur)
					} else {
						doc.edges = append(doc.edges, *cur)
					}
					cur = nil
				}
			}
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Fatalf("root element %q, want svg in the SVG namespace", root)
	}
	return doc
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return v
}

func writeSVG(t *testing.T, g *Graph, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSVG(&buf, g); err != nil {
		t.Fatal(err)
	}
	// Kept for a person to look at when a test fails.
	if dir := os.Getenv("LOCKSCOPE_GRAPH_OUT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".svg"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func overlap(a, b box) bool {
	return a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h
}

// Every fixture's SVG is well-formed, has one group per node and edge with
// the node's label, no two boxes overlap, and edge widths follow wait time.
func TestSVG(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			g := Build(loadFixture(t, name), fixtureLines(t))
			doc := parseSVG(t, writeSVG(t, g, name))
			if len(doc.nodes) != len(g.Nodes) || len(doc.edges) != len(g.Edges) {
				t.Fatalf("%d node and %d edge groups, want %d and %d", len(doc.nodes), len(doc.edges), len(g.Nodes), len(g.Edges))
			}
			for i, n := range g.Nodes {
				got := doc.nodes[i]
				if got.id != n.ID || strings.Join(got.texts, "\n") != strings.Join(n.Label(), "\n") {
					t.Errorf("node %d: id %q texts %q, want %q %q", i, got.id, got.texts, n.ID, n.Label())
				}
				if got.rect.w <= 0 || got.rect.h <= 0 {
					t.Errorf("node %s: box %+v", n.ID, got.rect)
				}
				for j := range i {
					if overlap(got.rect, doc.nodes[j].rect) {
						t.Errorf("boxes of %s and %s overlap: %+v %+v", n.ID, g.Nodes[j].ID, got.rect, doc.nodes[j].rect)
					}
				}
				if strings.Contains(got.class, "cycle") != n.Cycle {
					t.Errorf("node %s: class %q, cycle %v", n.ID, got.class, n.Cycle)
				}
			}
			for i, e := range g.Edges {
				got := doc.edges[i]
				if got.from != e.From || got.to != e.To {
					t.Errorf("edge %d: %s -> %s, want %s -> %s", i, got.from, got.to, e.From, e.To)
				}
				if (got.stroke == colourCycle) != e.Cycle {
					t.Errorf("edge %s -> %s: stroke %s, cycle %v", e.From, e.To, got.stroke, e.Cycle)
				}
				for j := range i {
					o := g.Edges[j]
					// Widths are written to 1/100: a heavier edge is never thinner.
					if e.WaitNs > o.WaitNs && got.strokeWidth < doc.edges[j].strokeWidth || e.WaitNs < o.WaitNs && got.strokeWidth > doc.edges[j].strokeWidth {
						t.Errorf("edge widths %.2f (%d ns) and %.2f (%d ns) do not follow the waits", got.strokeWidth, e.WaitNs, doc.edges[j].strokeWidth, o.WaitNs)
					}
				}
			}
		})
	}
}

var pathStart = regexp.MustCompile(`^M([0-9.]+),([0-9.]+) C[0-9., ]+ ([0-9.]+),([0-9.]+)$`)

// A chain reads left to right: on the handoff program, each link's box is
// right of the one before, and each edge runs from its waiter's box to its
// holder's.
func TestSVGChainReadsLeftToRight(t *testing.T) {
	g := Build(loadFixture(t, "handoff"), fixtureLines(t))
	doc := parseSVG(t, writeSVG(t, g, "handoff"))
	const rel = "testdata/handoff/main.go"
	at := map[string]box{}
	for _, n := range doc.nodes {
		at[n.id] = n.rect
	}
	var prev *box
	for _, m := range []string{"chain-waiter", "chain-middle", "chain-last-wait", "chain-holder"} {
		b, ok := at[siteID("/workspace/"+rel, marker(t, rel, m))]
		if !ok {
			t.Fatalf("no node for %s", m)
		}
		if prev != nil && b.x <= prev.x+prev.w {
			t.Errorf("%s at x=%.0f is not right of the link before it (ends at %.0f)", m, b.x, prev.x+prev.w)
		}
		prev = &b
	}
	for _, e := range doc.edges {
		m := pathStart.FindStringSubmatch(e.d)
		if m == nil {
			t.Fatalf("edge path %q", e.d)
		}
		a, b := at[e.from], at[e.to]
		sx, sy, ex, ey := num(t, m[1]), num(t, m[2]), e.tip[0], e.tip[1]
		if sx != round1(a.x+a.w) || sy != round1(a.y+a.h/2) || ex != round1(b.x) || ey != round1(b.y+b.h/2) {
			t.Errorf("edge %s -> %s runs %v,%v to its arrow's tip at %v,%v; boxes %+v %+v", e.from, e.to, sx, sy, ex, ey, a, b)
		}
		if pathEnd := num(t, m[3]); pathEnd >= ex {
			t.Errorf("edge %s -> %s: the line ends at x=%v, past its arrow's tip at %v", e.from, e.to, pathEnd, ex)
		}
	}
}

func round1(v float64) float64 {
	r, _ := strconv.ParseFloat(f(v), 64)
	return r
}

// An empty report still makes a well-formed picture that says so, and DOT
// that has no edge.
func TestEmpty(t *testing.T) {
	g := Build(loadFixture(t, "crashmap"), nil)
	data := writeSVG(t, g, "empty")
	parseSVG(t, data)
	if !bytes.Contains(data, []byte("No lock waits in this report.")) {
		t.Errorf("the empty SVG does not say it is empty:\n%s", data)
	}
	var dot bytes.Buffer
	if err := WriteDOT(&dot, g); err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^  n\d+ -> `).MatchString(dot.String()) || !strings.Contains(dot.String(), "no lock waits") {
		t.Errorf("empty DOT:\n%s", dot.String())
	}
}

var dotLine = regexp.MustCompile(`^  (n\d+)(?: -> (n\d+))? \[(.*)\];$`)

// The DOT output has one statement per node and edge, labels quoted (a
// quote or backslash in a name cannot break out), cycle edges coloured and
// widths that follow the waits.
func TestDOT(t *testing.T) {
	g := Build(loadFixture(t, "inversion"), fixtureLines(t))
	g.Nodes[0].Function = `main.weird"name\x`
	var buf bytes.Buffer
	if err := WriteDOT(&buf, g); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "//") || !strings.Contains(out, "digraph lockscope {\n  rankdir=LR;") || !strings.HasSuffix(out, "}\n") {
		t.Fatalf("DOT frame:\n%s", out)
	}
	if !strings.Contains(out, `weird\"name\\x`) {
		t.Errorf("the odd function name is not escaped:\n%s", out)
	}
	nodes, edges, cycles := 0, 0, 0
	widths := map[string]float64{}
	for _, l := range strings.Split(out, "\n") {
		m := dotLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[2] == "" {
			nodes++
			continue
		}
		edges++
		w := regexp.MustCompile(`penwidth=([0-9.]+)`).FindStringSubmatch(m[3])
		widths[m[1]+m[2]] = num(t, w[1])
		if strings.Contains(m[3], colourCycle) {
			cycles++
		}
	}
	if nodes != len(g.Nodes) || edges != len(g.Edges) || cycles != 2 {
		t.Errorf("%d nodes, %d edges, %d cycle edges; want %d, %d, 2:\n%s", nodes, edges, cycles, len(g.Nodes), len(g.Edges), out)
	}
	heaviest := g.Edges[0]
	for _, e := range g.Edges {
		if e.WaitNs > heaviest.WaitNs {
			heaviest = e
		}
	}
	if !strings.Contains(out, "penwidth=10.00") {
		t.Errorf("the heaviest edge (%s -> %s) is not the widest (10):\n%s", heaviest.From, heaviest.To, out)
	}
}

// WriteFile picks the format by the extension and refuses others.
func TestWriteFile(t *testing.T) {
	g := Build(loadFixture(t, "handoff"), fixtureLines(t))
	dir := t.TempDir()
	for _, c := range []struct{ name, start string }{{"g.svg", "<?xml"}, {"G.SVG", "<?xml"}, {"g.dot", "//"}, {"g.gv", "//"}} {
		p := filepath.Join(dir, c.name)
		if err := WriteFile(p, g); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), c.start) {
			t.Errorf("%s starts %q, want %q", c.name, data[:min(len(data), 20)], c.start)
		}
	}
	for _, bad := range []string{"g.png", "g", filepath.Join(dir, "g.svg.txt")} {
		if err := WriteFile(bad, g); err == nil || !strings.Contains(err.Error(), ".svg") {
			t.Errorf("WriteFile(%q): %v, want an error naming the formats", bad, err)
		}
	}
	if _, err := os.Stat("g.png"); err == nil {
		t.Error("a refused path was written")
	}
}

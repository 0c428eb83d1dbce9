package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Colours from the Okabe-Ito palette, safe for colour blindness: cycles
// in vermillion, other edges in grey, holder nodes outlined in blue.
const (
	colourCycle = "#d55e00"
	colourEdge  = "#6b6b6b"
	colourHold  = "#0072b2"
	colourWait  = "#444444"
)

var dotEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// dotString quotes s as a DOT string.
func dotString(s string) string { return `"` + dotEscape.Replace(s) + `"` }

// WriteDOT writes the graph in Graphviz's DOT language, left to right:
// render it with `dot -Tsvg`.
func WriteDOT(w io.Writer, g *Graph) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("// The waits-for graph of a lockscope report: A -> B means goroutines waiting\n")
	p("// at A waited for a holder at B. Edge width: wait time. %s: a lock-order cycle.\n", colourCycle)
	p("digraph lockscope {\n")
	p("  rankdir=LR;\n")
	p("  node [shape=box, style=\"rounded\", fontname=\"Helvetica\", fontsize=11, color=%q];\n", colourWait)
	p("  edge [fontname=\"Helvetica\", fontsize=9, color=%q, fontcolor=%q];\n", colourEdge, colourEdge)
	if len(g.Nodes) == 0 {
		p("  empty [shape=plaintext, label=\"no lock waits in this report\"];\n")
	}
	index := map[string]int{}
	for i, n := range g.Nodes {
		index[n.ID] = i
		attrs := []string{"label=" + dotString(strings.Join(n.Label(), "\n")), "tooltip=" + dotString(n.ID)}
		if n.Role == RoleHolds {
			attrs = append(attrs, `style="rounded,dashed"`, fmt.Sprintf("color=%q", colourHold))
		}
		if n.Cycle {
			attrs = append(attrs, fmt.Sprintf("color=%q", colourCycle), "penwidth=2")
		}
		p("  n%d [%s];\n", i, strings.Join(attrs, ", "))
	}
	for _, e := range g.Edges {
		attrs := []string{fmt.Sprintf("penwidth=%.2f", g.Width(e))}
		if l := e.Label(); l != "" {
			attrs = append(attrs, "label="+dotString(l))
		}
		if e.Cycle {
			attrs = append(attrs, fmt.Sprintf("color=%q", colourCycle), fmt.Sprintf("fontcolor=%q", colourCycle))
		}
		if e.Source == SourceProfiles {
			attrs = append(attrs, "style=dashed")
		}
		p("  n%d -> n%d [%s];\n", index[e.From], index[e.To], strings.Join(attrs, ", "))
	}
	p("}\n")
	return bw.Flush()
}

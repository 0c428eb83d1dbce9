package graph

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Text metrics for the estimate of a node's size: SVG has no layout of its
// own, and lockscope runs no renderer (no graphviz at run time).
const (
	titleSize = 12.0 // the first line of a node (lock and method), bold
	textSize  = 11.0
	titleChar = 7.4 // average advance of a bold 12 px Helvetica character
	textChar  = 6.3
	lineStep  = 15.0
	padX      = 10.0
	padY      = 8.0
	header    = 34.0 // the title above the graph
	footer    = 58.0 // room for edges routed below, and the legend
)

// esc escapes text for XML content and attribute values.
func esc(s string) string { return html.EscapeString(s) }

func nodeSize(lines []string) (float64, float64) {
	w := 0.0
	for i, l := range lines {
		c := textChar
		if i == 0 {
			c = titleChar
		}
		w = max(w, float64(utf8.RuneCountInString(l))*c)
	}
	return w + 2*padX, float64(len(lines))*lineStep + 2*padY - 3
}

func f(v float64) string { return fmt.Sprintf("%.1f", v) }

// WriteSVG writes the graph as a standalone SVG picture, laid out left to
// right by lockscope's own layered layout. Each node and edge is a <g>
// with class "node" or "edge" (plus "cycle", "holds", "profiles") and
// data-id or data-from/data-to attributes, and a <title> tooltip.
func WriteSVG(w io.Writer, g *Graph) error {
	labels := make([][]string, len(g.Nodes))
	sizes := make([][2]float64, len(g.Nodes))
	index := map[string]int{}
	for i, n := range g.Nodes {
		index[n.ID] = i
		labels[i] = n.Label()
		sizes[i][0], sizes[i][1] = nodeSize(labels[i])
	}
	edges := make([][2]int, len(g.Edges))
	for i, e := range g.Edges {
		edges[i] = [2]int{index[e.From], index[e.To]}
	}
	lay := layoutNodes(sizes, edges)
	for i := range lay.boxes {
		lay.boxes[i].y += header
	}
	const title = "Waits-for graph: an arrow A → B means goroutines waiting at A waited for a holder at B"
	width := max(lay.width, float64(utf8.RuneCountInString(title))*titleChar+2*margin)
	height := lay.height + header + footer

	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="Helvetica, Arial, sans-serif">`+"\n", f(width), f(height), f(width), f(height))
	p("<title>lockscope: waits-for graph (%d lock sites, %d edges, %d cycles)</title>\n", len(g.Nodes), len(g.Edges), len(g.Cycles))
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="%s" y="22" font-size="13" font-weight="bold" fill="#222222">%s</text>`+"\n", f(margin), esc(title))
	if len(g.Nodes) == 0 {
		p(`<text x="%s" y="%s" font-size="12" fill="#444444">No lock waits in this report.</text>`+"\n", f(margin), f(header+margin))
	}

	p("<g class=\"edges\">\n")
	for i, e := range g.Edges {
		a, b := lay.boxes[edges[i][0]], lay.boxes[edges[i][1]]
		var sx, sy, c1x, c1y, c2x, c2y, ex, ey float64
		if lay.layer[edges[i][1]] > lay.layer[edges[i][0]] {
			// Left to right, from the right side to the left side.
			sx, sy = a.x+a.w, a.y+a.h/2
			ex, ey = b.x, b.y+b.h/2
			dx := (ex - sx) / 2
			c1x, c1y, c2x, c2y = sx+dx, sy, ex-dx, ey
		} else {
			// Back or within a layer: under the boxes, bottom to bottom.
			sx, sy = a.x+a.w/2, a.y+a.h
			ex, ey = b.x+b.w/2, b.y+b.h
			dip := max(sy, ey) + 30 + 0.1*math.Abs(sx-ex)
			c1x, c1y, c2x, c2y = sx, dip, ex, dip
		}
		colour := colourEdge
		class := "edge"
		if e.Cycle {
			colour = colourCycle
			class += " cycle"
		}
		// The arrowhead grows with the edge, so that a thick edge still
		// shows its direction; the path stops at the head's base.
		width := g.Width(e)
		ux, uy := ex-c2x, ey-c2y
		if l := math.Hypot(ux, uy); l > 0 {
			ux, uy = ux/l, uy/l
		} else {
			ux, uy = 1, 0
		}
		headLen, headHalf := 8+1.2*width, 4+0.9*width
		bx, by := ex-ux*headLen, ey-uy*headLen
		dash := ""
		if e.Source == SourceProfiles {
			class += " profiles"
			dash = ` stroke-dasharray="6 4"`
		}
		from, to := g.Nodes[edges[i][0]], g.Nodes[edges[i][1]]
		p(`<g class="%s" data-from="%s" data-to="%s">`, class, esc(e.From), esc(e.To))
		p("<title>%s</title>", esc(fmt.Sprintf("%s waited for the holder at %s: %s", from.Label()[1], to.Label()[1], orDash(e.Label()))))
		p(`<path d="M%s,%s C%s,%s %s,%s %s,%s" fill="none" stroke="%s" stroke-width="%.2f" stroke-opacity="0.85"%s/>`,
			f(sx), f(sy), f(c1x), f(c1y), f(c2x), f(c2y), f(bx+ux), f(by+uy), colour, width, dash)
		p(`<polygon points="%s,%s %s,%s %s,%s" fill="%s"/>`, f(ex), f(ey), f(bx-uy*headHalf), f(by+ux*headHalf), f(bx+uy*headHalf), f(by-ux*headHalf), colour)
		if l := e.Label(); l != "" {
			mx := (sx + 3*c1x + 3*c2x + ex) / 8
			my := (sy + 3*c1y + 3*c2y + ey) / 8
			p(`<text x="%s" y="%s" font-size="10" text-anchor="middle" fill="%s" stroke="#ffffff" stroke-width="3" paint-order="stroke">%s</text>`, f(mx), f(my-6), colour, esc(l))
		}
		p("</g>\n")
	}
	p("</g>\n")

	p("<g class=\"nodes\">\n")
	for i, n := range g.Nodes {
		b := lay.boxes[i]
		class, stroke, dash, sw := "node "+n.Role, colourWait, "", 1.2
		if n.Role == RoleHolds {
			stroke, dash = colourHold, ` stroke-dasharray="5 3"`
		}
		if n.Cycle {
			class += " cycle"
			stroke, sw = colourCycle, 2.5
		}
		p(`<g class="%s" data-id="%s">`, class, esc(n.ID))
		p("<title>%s</title>", esc(n.File+":"+fmt.Sprint(n.Line)+" ("+n.Function+")"))
		p(`<rect x="%s" y="%s" width="%s" height="%s" rx="6" fill="#f7f7f7" stroke="%s" stroke-width="%.1f"%s/>`, f(b.x), f(b.y), f(b.w), f(b.h), stroke, sw, dash)
		for j, l := range labels[i] {
			y := b.y + padY + float64(j)*lineStep + 11
			if j == 0 {
				p(`<text x="%s" y="%s" font-size="%s" font-weight="bold" fill="#222222">%s</text>`, f(b.x+padX), f(y), f(titleSize), esc(l))
			} else {
				p(`<text x="%s" y="%s" font-size="%s" fill="#444444">%s</text>`, f(b.x+padX), f(y), f(textSize), esc(l))
			}
		}
		p("</g>\n")
	}
	p("</g>\n")

	legend := []string{"Edge width: wait time.", "Dashed box: the holder releases the lock there."}
	if len(g.Cycles) > 0 {
		names := make([]string, len(g.Cycles))
		for i, c := range g.Cycles {
			names[i] = strings.Join(c.Locks, " ⇄ ")
			if c.Deadlock {
				names[i] = "deadlock: " + names[i]
			}
		}
		legend = append(legend, "Vermillion: lock-order cycle ("+strings.Join(names, "; ")+").")
	}
	for _, e := range g.Edges {
		if e.Source == SourceProfiles {
			legend = append(legend, "Dashed edge: paired from the profiles (no trace), by lock.")
			break
		}
	}
	p(`<text x="%s" y="%s" font-size="11" fill="#555555">%s</text>`+"\n", f(margin), f(height-12), esc(strings.Join(legend, " ")))
	p("</svg>\n")
	return bw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "no wait of its own (counted where its chain starts)"
	}
	return s
}

package graph

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

var receiver = regexp.MustCompile(`\(\*([^)]*)\)`)

// ShortFunction names a function for a person, as the extension does:
// github.com/x/shop/store.(*Store).Add is Store.Add.
func ShortFunction(fn string) string {
	tail := fn[strings.LastIndexByte(fn, '/')+1:]
	if i := strings.IndexByte(tail, '.'); i >= 0 {
		tail = tail[i+1:]
	}
	tail = strings.NewReplacer("(", "", ")", "").Replace(receiver.ReplaceAllString(tail, "$1"))
	if tail == "" {
		return fn
	}
	return tail
}

// Duration writes a wait for a label: 1.32s, 778ms, 420µs.
func Duration(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= time.Microsecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%d ns", ns)
}

// Label is a node's text, line by line: what it does to which lock, where,
// and how long.
func (n Node) Label() []string {
	var what string
	switch {
	case n.Lock != "" && n.Method != "":
		what = n.Lock + "." + n.Method + "()"
	case n.Method != "" && n.Primitive != "":
		what = n.Primitive + "." + n.Method
	case n.Primitive != "":
		what = n.Primitive
	default:
		what = "wait"
	}
	out := []string{what, ShortFunction(n.Function) + " · " + path.Base(n.File) + fmt.Sprintf(":%d", n.Line)}
	var times []string
	if n.WaitNs > 0 {
		times = append(times, "waited "+Duration(n.WaitNs))
	}
	if n.HoldNs > 0 {
		times = append(times, "made others wait "+Duration(n.HoldNs))
	}
	if n.QueueNs > 0 {
		times = append(times, fmt.Sprintf("queued %s (%d×)", Duration(n.QueueNs), n.QueueCount))
	}
	if len(times) > 0 {
		out = append(out, strings.Join(times, " · "))
	}
	return out
}

// Label is an edge's text: the wait and how many waits.
func (e Edge) Label() string {
	if e.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%s × %d", Duration(e.WaitNs), e.Count)
}

// maxWait is the largest edge wait, the scale of the widths.
func (g *Graph) maxWait() int64 {
	var m int64
	for _, e := range g.Edges {
		m = max(m, e.WaitNs)
	}
	return m
}

// Width is an edge's stroke width: 1 for no time, up to 10 for the
// heaviest edge of the graph, in proportion to the wait.
func (g *Graph) Width(e Edge) float64 {
	m := g.maxWait()
	if m <= 0 || e.WaitNs <= 0 {
		return 1
	}
	return 1 + 9*float64(e.WaitNs)/float64(m)
}

package graph

import "sort"

// A layered layout (Sugiyama's scheme, kept small): break cycles by turning
// the back edges of a depth-first search, put each node one layer right of
// its furthest predecessor, order each layer by the barycentre of its
// neighbours over a few sweeps, then stack the layers left to right.

// Spacing of the layout, in SVG user units (pixels).
const (
	layerGap = 150.0 // between two layers, with room for the edges' labels
	nodeGap  = 28.0  // between two nodes of a layer
	margin   = 24.0
)

// box is a node's place: its top-left corner and size.
type box struct{ x, y, w, h float64 }

type placed struct {
	boxes  []box
	layer  []int
	width  float64
	height float64
}

// layoutNodes places nodes of the given sizes joined by edges (indexes).
func layoutNodes(sizes [][2]float64, edges [][2]int) placed {
	n := len(sizes)
	out := make([][]int, n)
	for _, e := range edges {
		if e[0] != e[1] {
			out[e[0]] = append(out[e[0]], e[1])
		}
	}
	for _, o := range out {
		sort.Ints(o)
	}
	// Break cycles: an edge to a node still on the DFS stack is turned.
	state := make([]int, n)
	var dag [][2]int
	var dfs func(u int)
	dfs = func(u int) {
		state[u] = 1
		for _, v := range out[u] {
			switch state[v] {
			case 0:
				dag = append(dag, [2]int{u, v})
				dfs(v)
			case 1:
				dag = append(dag, [2]int{v, u})
			default:
				dag = append(dag, [2]int{u, v})
			}
		}
		state[u] = 2
	}
	for u := range n {
		if state[u] == 0 {
			dfs(u)
		}
	}
	// Longest-path layers over the acyclic edges (Kahn's order).
	preds := make([][]int, n)
	succs := make([][]int, n)
	indeg := make([]int, n)
	for _, e := range dag {
		succs[e[0]] = append(succs[e[0]], e[1])
		preds[e[1]] = append(preds[e[1]], e[0])
		indeg[e[1]]++
	}
	layer := make([]int, n)
	queue := []int{}
	for u := range n {
		if indeg[u] == 0 {
			queue = append(queue, u)
		}
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range succs[u] {
			layer[v] = max(layer[v], layer[u]+1)
			if indeg[v]--; indeg[v] == 0 {
				queue = append(queue, v)
			}
		}
	}
	layers := 0
	for _, l := range layer {
		layers = max(layers, l+1)
	}
	rows := make([][]int, layers)
	for u := range n {
		rows[layer[u]] = append(rows[layer[u]], u)
	}
	// Order within layers: barycentres of the neighbours' positions,
	// sweeping right then left.
	pos := make([]float64, n)
	setPos := func() {
		for _, row := range rows {
			for i, u := range row {
				pos[u] = float64(i)
			}
		}
	}
	setPos()
	for sweep := range 8 {
		for k := range rows {
			l := k
			nb := preds
			if sweep%2 == 1 {
				l = layers - 1 - k
				nb = succs
			}
			bary := map[int]float64{}
			for _, u := range rows[l] {
				if len(nb[u]) == 0 {
					bary[u] = pos[u]
					continue
				}
				s := 0.0
				for _, v := range nb[u] {
					s += pos[v]
				}
				bary[u] = s / float64(len(nb[u]))
			}
			sort.SliceStable(rows[l], func(i, j int) bool { return bary[rows[l][i]] < bary[rows[l][j]] })
			for i, u := range rows[l] {
				pos[u] = float64(i)
			}
		}
	}
	// Coordinates: each layer a column as wide as its widest node,
	// centred vertically on the tallest column.
	p := placed{boxes: make([]box, n), layer: layer}
	colH := make([]float64, layers)
	colW := make([]float64, layers)
	for l, row := range rows {
		for i, u := range row {
			colW[l] = max(colW[l], sizes[u][0])
			colH[l] += sizes[u][1]
			if i > 0 {
				colH[l] += nodeGap
			}
		}
	}
	maxH := 0.0
	for _, h := range colH {
		maxH = max(maxH, h)
	}
	x := margin
	for l, row := range rows {
		y := margin + (maxH-colH[l])/2
		for _, u := range row {
			w, h := sizes[u][0], sizes[u][1]
			p.boxes[u] = box{x: x + (colW[l]-w)/2, y: y, w: w, h: h}
			y += h + nodeGap
		}
		x += colW[l] + layerGap
	}
	p.width = x - layerGap + margin
	p.height = maxH + 2*margin
	if n == 0 {
		p.width, p.height = 2*margin, 2*margin
	}
	return p
}

package graph

import (
	"io"
	"testing"
)

// BenchmarkGraph times the graph of the largest fixture (inversion: 12
// lock sites, 8 edges, one cycle): building it from the report, and
// writing it as SVG (with lockscope's own layout) and as DOT. The peer for
// the SVG is Graphviz on the DOT (`dot -Tsvg`), timed outside Go; see the
// README's figures.
func BenchmarkGraph(b *testing.B) {
	r := loadFixture(b, "inversion")
	lines := fixtureLines(b)
	g := Build(r, lines)
	b.Run("Build", func(b *testing.B) {
		for b.Loop() {
			Build(r, lines)
		}
	})
	b.Run("SVG", func(b *testing.B) {
		for b.Loop() {
			if err := WriteSVG(io.Discard, g); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DOT", func(b *testing.B) {
		for b.Loop() {
			if err := WriteDOT(io.Discard, g); err != nil {
				b.Fatal(err)
			}
		}
	})
}

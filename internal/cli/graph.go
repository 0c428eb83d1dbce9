package cli

import (
	"flag"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/graph"
)

// graphFlag registers `--graph FILE` on the analyze flags: the waits-for
// graph is written there too. A path whose extension names no format is
// refused while the flags are parsed (exit 2), before any program runs.
func graphFlag(fs *flag.FlagSet, path *string) {
	fs.Func("graph", "also write the waits-for graph between lock sites to `file`: .svg (laid out by lockscope) or .dot (Graphviz)", func(s string) error {
		if err := graph.CheckPath(s); err != nil {
			return err
		}
		*path = s
		return nil
	})
}

// writeGraph writes the waits-for graph of r to path, with the locks named
// from the source lines the report points at.
func writeGraph(path string, r *contention.Report) error {
	return graph.WriteFile(path, graph.Build(r, graph.FileLines(nil)))
}

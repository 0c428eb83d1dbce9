package graph

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CheckPath says whether WriteFile can write path: its extension picks the
// format, .svg, or .dot (or .gv) for Graphviz.
func CheckPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".dot", ".gv":
		return nil
	}
	return fmt.Errorf("%q: the graph is written as .svg, or as .dot (or .gv) for Graphviz", path)
}

// WriteFile writes the graph to path as SVG or DOT, by its extension.
func WriteFile(path string, g *Graph) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	var buf bytes.Buffer
	var err error
	if strings.EqualFold(filepath.Ext(path), ".svg") {
		err = WriteSVG(&buf, g)
	} else {
		err = WriteDOT(&buf, g)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

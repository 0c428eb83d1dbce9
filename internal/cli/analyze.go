package cli

import (
	"fmt"
	"io"
)

// Analyze runs `lockscope analyze`. PLACEHOLDER written by the lead so the
// package builds; the capture helper owns this file and replaces it whole.
func Analyze(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "lockscope analyze: not built yet")
	return 1
}

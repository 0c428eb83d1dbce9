// Command lockscope is a Go debugger that finds lock contention and unsafe
// map writes: `lockscope dap` serves the Debug Adapter Protocol in front of
// Delve, and `lockscope analyze` runs the same analysis headless.
package main

import (
	"os"

	"github.com/lockscope/lockscope/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

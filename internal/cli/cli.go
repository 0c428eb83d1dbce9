// Package cli implements the lockscope command line: the dap and analyze
// subcommands. Each subcommand parses its flags here and hands the work to
// the packages that own it (session for dap; capture and report for
// analyze), so that main stays a single line.
package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

const usage = `lockscope finds lock contention and unsafe map writes in Go programs.

Usage:
  lockscope dap [--listen ADDR] [--dlv PATH] [--log] [--log-dest FILE]
      Serve the Debug Adapter Protocol in front of Delve (stdio by default).
  lockscope analyze [flags] [PACKAGE|DIR] [-- program args]
      Build and run a program with the capture agent and print its report.
  lockscope diff [--json] [--fail-on RULE] OLD NEW
      Compare two captures saved with "lockscope analyze --save".

Run "lockscope <command> -h" for the flags of a command.
`

// Main runs the lockscope command line and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "dap":
		return Dap(args[1:], stdin, stdout, stderr)
	case "analyze":
		// The execution-trace reader holds a whole decoded generation; a
		// soft limit keeps a large trace's peak memory near the live data
		// (measured on 200 MB: 293 MB without, 154 MB with 150 MiB) at a
		// little GC time. The limit counts the Go runtime's memory only:
		// this binary's own pages (Delve and go/packages linked in) add
		// about 11 MB of RSS, so 135 MiB is what keeps the process under
		// 150 MiB (measured 2026-12-01 on a 200 MB trace, medians of 3:
		// 159.6 MiB at a 150 MiB limit, 144.6 MiB at 135 MiB, for about 6%
		// more CPU). GOMEMLIMIT, when set, wins.
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(135 << 20)
		}
		return Analyze(args[1:], stdout, stderr)
	case "diff":
		return Diff(args[1:], stdout, stderr)
	case indexHelperCommand:
		return IndexHelper(stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "lockscope: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

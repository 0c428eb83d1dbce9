package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lockscope/lockscope/internal/compare"
	"github.com/lockscope/lockscope/internal/pipeline"
)

const diffUsage = `Usage: lockscope diff [flags] OLD NEW

Compares two captures saved with "lockscope analyze --save": hotspot by
hotspot, chain by chain and map write by map write, matched by function and
by the line's offset in it (an edit above a hotspot does not break the
match). Values are per benchmark op when both captures ran benchmarks,
per second of capture otherwise. NEW's report is printed with the change of
each entry; --json prints it with each entry's "base" and the report's
"comparison".

Exit codes: 0 compared, 1 lockscope failed, 2 usage error, 4 a capture
could not be read, 6 --fail-on: a lock line got hotter past the bound.

Flags:
`

// Diff runs `lockscope diff OLD NEW` and returns the exit code.
func Diff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lockscope diff", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	fs.Usage = func() {
		fmt.Fprint(&usage, diffUsage)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print NEW's report with the comparison as JSON")
	top := fs.Int("top", 5, "entries shown per section in the text report")
	failOn := fs.String("fail-on", "", "exit 6 when a lock line's wait per op grows past the bound beyond the noise; `rule` is wait+N% [,alpha=0.05] [,min=DUR]")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = usage.WriteTo(stdout)
			return ExitOK
		}
		_, _ = usage.WriteTo(stderr)
		return ExitUsage
	}
	if fs.NArg() != 2 || *top <= 0 {
		fmt.Fprintf(stderr, "lockscope diff: want two captures, OLD and NEW\n")
		return ExitUsage
	}
	var rule compare.Rule
	if *failOn != "" {
		r, err := compare.ParseRule(*failOn)
		if err != nil {
			fmt.Fprintf(stderr, "lockscope diff: %v\n", err)
			return ExitUsage
		}
		rule = r
	}
	var caps [2]*pipeline.Capture
	for i, p := range fs.Args() {
		c, err := pipeline.OpenCapture(absPath(p))
		if err != nil {
			fmt.Fprintf(stderr, "lockscope diff: %v\n", err)
			return ExitInput
		}
		caps[i] = c
	}
	var rp *compare.Rule
	if *failOn != "" {
		rp = &rule
	}
	r, err := pipeline.CompareCaptures(context.Background(), caps[0], caps[1], rp)
	if err != nil {
		fmt.Fprintf(stderr, "lockscope diff: %v\n", err)
		return ExitInput
	}
	exit := ExitOK
	if g := r.Comparison.Gate; g != nil && !g.Passed {
		exit = ExitGate
	}
	if *asJSON {
		err = writeJSON(stdout, r)
	} else {
		cwd, _ := os.Getwd()
		err = writeText(stdout, r, cwd, *top)
		if err == nil {
			err = writeComparison(stdout, r, cwd, *top)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "lockscope diff: writing the report: %v\n", err)
		return ExitInternal
	}
	if exit == ExitGate {
		fmt.Fprintf(stderr, "lockscope diff: --fail-on %s: %d lock line(s) got hotter beyond the noise\n", *failOn, len(r.Comparison.Gate.Failures))
	}
	return exit
}

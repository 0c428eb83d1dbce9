package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/compare"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// captureInfo describes the session's capture for a saved file: the
// program, its Go version, the commit of its repository and the launch's
// capture settings.
func (e *extension) captureInfo() contention.Capture {
	li := e.launchInfo()
	cfg := li.Config
	e.mu.Lock()
	covered := e.dbg.covered
	e.mu.Unlock()
	// What the profiles cover, stops left out (see profiled): a
	// comparison per second divides by it.
	info := contention.Capture{Program: li.Program, GoVersion: e.pipe.GoVersion(), Settings: map[string]string{}, DurationNs: covered.Nanoseconds()}
	if li.ProgramDir != "" {
		// Read from .git, not by running git: embedded Delve reaps the
		// adapter's children while the debuggee runs.
		info.Commit = pipeline.GitCommit(li.ProgramDir)
	}
	set := func(k, v string) {
		if v != "" && v != "0" {
			info.Settings[k] = v
		}
	}
	set("mode", "session")
	set("request", li.Request)
	set("launchMode", li.Mode)
	set("capture", cfg.Capture)
	set("refreshSeconds", strconv.FormatFloat(cfg.RefreshSeconds, 'g', -1, 64))
	set("traceSeconds", strconv.FormatFloat(cfg.TraceSeconds, 'g', -1, 64))
	set("mutexProfileFraction", strconv.Itoa(cfg.MutexProfileFraction))
	set("blockProfileRate", strconv.Itoa(cfg.BlockProfileRate))
	set("pprofURL", cfg.PprofURL)
	if cfg.Race {
		set("race", "true")
	}
	return info
}

func checkPath(cmd, path string) *reqError {
	if path == "" {
		return badArgs(fmt.Errorf("%s needs a path", cmd))
	}
	if len(path) > maxPath {
		return badArgs(fmt.Errorf("a path of %d bytes is longer than any file system takes (%d); it begins %q",
			len(path), maxPath, dapx.Shorten(path)))
	}
	return nil
}

// onSave writes the capture as it stands (the last report, the raw
// profiles and the trace summaries it came from) to a zip that `lockscope
// analyze --load/--base`, `lockscope diff` and lockscope/compare read.
func (e *extension) onSave(ctx context.Context, raw json.RawMessage) (any, *reqError) {
	var args dapx.SaveArguments
	if err := decodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if err := checkPath(dapx.CommandSave, args.Path); err != nil {
		return nil, err
	}
	r := e.pipe.Build()
	if err := e.pipe.SaveFile(args.Path, e.captureInfo(), r); err != nil {
		details := strings.ReplaceAll(err.Error(), args.Path, dapx.Shorten(args.Path))
		return nil, &reqError{id: dapx.ErrSaveFailed, summary: "Save failed", details: details, showUser: true}
	}
	c, err := pipeline.OpenCapture(args.Path)
	if err != nil {
		// Written but not readable back: say so now, not at the next
		// comparison.
		return nil, &reqError{id: dapx.ErrSaveFailed, summary: "Save failed", details: err.Error(), showUser: true}
	}
	return dapx.SaveResponseBody{Path: args.Path, Profiles: len(c.Profiles), Traces: len(c.Traces)}, nil
}

// onCompare answers with the report as it stands, compared with a saved
// capture: each hotspot, chain and map write with its base value and
// change, and the report's comparison (what went away, the totals).
func (e *extension) onCompare(ctx context.Context, raw json.RawMessage) (any, *reqError) {
	var args dapx.CompareArguments
	if err := decodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if err := checkPath(dapx.CommandCompare, args.Path); err != nil {
		return nil, err
	}
	var rule *compare.Rule
	if args.FailOn != "" {
		r, err := compare.ParseRule(args.FailOn)
		if err != nil {
			return nil, badArgs(err)
		}
		rule = &r
	}
	fail := func(err error) *reqError {
		details := strings.ReplaceAll(err.Error(), args.Path, dapx.Shorten(args.Path))
		return &reqError{id: dapx.ErrCompareFailed, summary: "Compare failed", details: details, showUser: true}
	}
	base, err := pipeline.OpenCapture(args.Path)
	if err != nil {
		return nil, fail(err)
	}
	r, err := e.pipe.CompareWith(ctx, base, e.captureInfo(), e.pipe.Build(), rule)
	if errors.Is(err, context.Canceled) {
		return nil, &reqError{id: dapx.ErrCancelled, summary: "Compare cancelled", details: "the comparison was cancelled"}
	}
	if err != nil {
		return nil, fail(err)
	}
	return r, nil
}

package mapwrites

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// LoadProgram indexes the program in dir: its package and every package of
// the same module that it imports, however far away in the module they sit
// (a map written in internal/store by a command in cmd/server counts).
// Standard library and other modules' packages are left out: their writes
// are not the user's to fix, and typing them would cost seconds.
func LoadProgram(dir string, o Options) (*Index, error) {
	patterns, err := programPackages(dir, o)
	if err != nil {
		return nil, err
	}
	return LoadWithOptions(dir, patterns, o)
}

// programPackages lists the main module's packages that the package in dir
// depends on, itself included.
func programPackages(dir string, o Options) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mapwrites: directory %q: %v", dir, err)
	}
	args := []string{"list", "-deps", "-e"}
	if o.Tests {
		args = append(args, "-test")
	}
	args = append(args, o.BuildFlags...)
	// Test variants (ForTest set: the package recompiled with its tests,
	// and the external test package "pkg_test") are no import paths the
	// go command can load: Tests loads them from the plain path.
	// Besides the main module's packages, those of the modules asked for.
	mods := ".Module.Main"
	if len(o.Modules) > 0 {
		mods = "(or .Module.Main"
		for _, m := range o.Modules {
			mods += fmt.Sprintf(" (eq .Module.Path %q)", m)
		}
		mods += ")"
	}
	args = append(args, "-f", "{{if .Module}}{{if and "+mods+" (not .ForTest)}}{{.ImportPath}}{{end}}{{end}}", ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = abs
	if o.Env != nil {
		cmd.Env = o.Env
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("mapwrites: go list in %s: %v: %s", abs, err, strings.TrimSpace(stderr.String()))
	}
	seen := map[string]bool{}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		// With -test, the generated main is "pkg.test": the plain import
		// path stands for it, and Tests loads it.
		if strings.HasSuffix(p, ".test") || seen[p] {
			continue
		}
		seen[p] = true
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		// Not in a module (or go list found nothing): index the package alone.
		return []string{"."}, nil
	}
	return pkgs, nil
}

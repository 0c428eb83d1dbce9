package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goLog puts a go command on PATH that records each run in a file before
// it runs the real one, points the user cache folder at a fresh one, and
// returns a function that says how many go commands ran since it was last
// called.
func goLog(t *testing.T) func() int {
	t.Helper()
	real, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "runs")
	script := "#!/bin/sh\necho \"$*\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	seen := 0
	return func() int {
		b, _ := os.ReadFile(log)
		lines := strings.Count(string(b), "\n")
		n := lines - seen
		seen = lines
		return n
	}
}

// writeModule writes a one-package module at dir.
func writeModule(t *testing.T, dir, path string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"go.mod":  "module " + path + "\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// modulePaths returns the facts' module paths, and fails the test on an
// error.
func modulePaths(t *testing.T, dir string) []string {
	t.Helper()
	f, err := goFactsIn(dir)
	if err != nil {
		t.Fatalf("goFactsIn(%s): %v", dir, err)
	}
	if f.GOROOT == "" || !strings.HasPrefix(f.GoVersion, "go1.") {
		t.Fatalf("goFactsIn(%s) = %+v: want a GOROOT and a Go version", dir, f)
	}
	var out []string
	for _, m := range f.Modules {
		out = append(out, m.Path+"@"+m.Dir)
	}
	return out
}

// The go facts of a folder are asked of the go command once; the next F5
// runs no go command before Delve's build, until a go.mod or go.work the
// answer depends on changes, appears or goes.
func TestGoFactsCache(t *testing.T) {
	runs := goLog(t)
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	writeModule(t, dir, "example.com/app")
	want := "example.com/app@" + dir

	check := func(step string, wantRuns int, want ...string) {
		t.Helper()
		got := modulePaths(t, dir)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: modules %q, want %q", step, got, want)
		}
		if n := runs(); n != wantRuns {
			t.Errorf("%s: %d go commands ran, want %d", step, n, wantRuns)
		}
	}
	check("first", 2, want)
	check("second", 0, want)

	// The module renamed.
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/renamed\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("after go.mod changed", 2, "example.com/renamed@"+dir)
	check("again", 0, "example.com/renamed@"+dir)

	// A workspace appears above the module, with a second module: both
	// are the user's code now.
	other := filepath.Join(root, "lib")
	writeModule(t, other, "example.com/lib")
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.22\n\nuse (\n\t./app\n\t./lib\n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	both := []string{"example.com/renamed@" + dir, "example.com/lib@" + other}
	check("after go.work appeared", 2, both...)
	check("again", 0, both...)

	// The other module renamed: its go.mod is watched too.
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/lib2\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("after the other go.mod changed", 2, "example.com/renamed@"+dir, "example.com/lib2@"+other)

	// Without the workspace, one module again.
	if err := os.Remove(filepath.Join(root, "go.work")); err != nil {
		t.Fatal(err)
	}
	check("after go.work went", 2, "example.com/renamed@"+dir)

	// Another go environment is another answer.
	t.Setenv("GOFLAGS", "-mod=mod")
	check("after GOFLAGS changed", 2, "example.com/renamed@"+dir)
}

// A cache file that is not an entry (cut short, garbage, another folder's,
// or watching less than the facts depend on) is a miss: the go command
// answers, with no error, and a good entry replaces it.
func TestGoFactsCacheIgnoresABadFile(t *testing.T) {
	runs := goLog(t)
	dir := filepath.Join(t.TempDir(), "app")
	writeModule(t, dir, "example.com/app")
	want := []string{"example.com/app@" + dir}
	modulePaths(t, dir)
	runs()
	c, ok := newGoFactsCache(dir)
	if !ok {
		t.Fatal("no cache")
	}
	good, err := os.ReadFile(c.path)
	if err != nil {
		t.Fatalf("no cache file after the first run: %v", err)
	}
	for name, bad := range map[string][]byte{
		"cut short": good[:len(good)/2],
		"garbage":   []byte("\x00\xffnot json"),
		"empty":     nil,
		"another folder's": []byte(strings.Replace(string(good), `"dir":"`+dir+`"`,
			`"dir":"`+dir+`x"`, 1)),
		// Every file it watches still reads the same, but the go.mod
		// is not among them.
		"no go.mod watched": regexp.MustCompile(`"`+regexp.QuoteMeta(filepath.Join(dir, "go.mod"))+`":"[0-9a-f]*"`).
			ReplaceAll(good, []byte(`"`+filepath.Join(dir, "go.mod.x")+`":""`)),
	} {
		if string(bad) == string(good) {
			t.Fatalf("%s: the entry was not changed", name)
		}
		if err := os.WriteFile(c.path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := modulePaths(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: modules %q, want %q", name, got, want)
		}
		if n := runs(); n != 2 {
			t.Errorf("%s: %d go commands ran, want 2", name, n)
		}
		modulePaths(t, dir)
		if n := runs(); n != 0 {
			t.Errorf("%s: the entry was not replaced: %d go commands ran on the next call", name, n)
		}
	}
}

// A go command that fails is not cached: the next call asks again.
func TestGoFactsFailureIsNotCached(t *testing.T) {
	runs := goLog(t)
	dir := filepath.Join(t.TempDir(), "app")
	writeModule(t, dir, "example.com/app")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("this is not a go.mod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := goFactsIn(dir); err == nil {
			t.Fatalf("call %d: no error for a broken go.mod", i+1)
		}
		if n := runs(); n != 2 {
			t.Errorf("call %d: %d go commands ran, want 2", i+1, n)
		}
	}
}

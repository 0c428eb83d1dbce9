package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The Go releases, older than this machine's own, that the end-to-end
// tests build debuggees with to run the capture agent and the flight
// recorder's reader on the runtimes they claim to support: the newest
// patch releases of Go 1.25 (the first with runtime/trace.FlightRecorder,
// whose memory layout differs from Go 1.26's) and Go 1.24 (the oldest the
// agent builds with, and without a flight recorder) that the module proxy
// served on 2026-12-02.
const (
	ProxyGo125 = "go1.25.14"
	ProxyGo124 = "go1.24.13"
)

var proxyGo sync.Map // version -> *proxyGoResult

type proxyGoResult struct {
	once sync.Once
	err  error
}

// ProxyGo makes sure the go command can run toolchain version (such as
// ProxyGo125) and returns what a process needs in its environment for its
// go command to be that toolchain: GOTOOLCHAIN set to it, and none of the
// caller's GOFLAGS (a newer go command's flags may not exist in the older
// one). The go command downloads the toolchain from the module proxy into
// the module cache the first time (about 76 MB, 12-16 s here), once per
// machine; a test process asks once. A toolchain that cannot be had fails
// the test rather than skip it: what it proves is never taken on trust.
//
// The program built with it must not be in lockscope's own module, whose
// go.mod asks for a newer Go than version (the go command would refuse):
// see CopyToModule.
func ProxyGo(t testing.TB, version string) map[string]string {
	t.Helper()
	v, _ := proxyGo.LoadOrStore(version, &proxyGoResult{})
	r := v.(*proxyGoResult)
	r.once.Do(func() { r.err = fetchProxyGo(version) })
	if r.err != nil {
		t.Fatalf("Go toolchain %s from the module proxy: %v", version, r.err)
	}
	return ProxyGoEnv(version)
}

// ProxyGoEnv is the environment of ProxyGo, without the download.
func ProxyGoEnv(version string) map[string]string {
	return map[string]string{"GOTOOLCHAIN": version, "GOFLAGS": ""}
}

func fetchProxyGo(version string) error {
	// Run from a temp dir: in lockscope's module, go.mod's go line would
	// make the go command refuse the older toolchain before it runs.
	dir, err := os.MkdirTemp("", "lockscope-proxygo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range ProxyGoEnv(version) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("GOTOOLCHAIN=%s go env GOVERSION: %w\n%s(the go command downloads it through GOPROXY, which must not be off; GOPROXY=%q here)", version, err, out, os.Getenv("GOPROXY"))
	}
	// The last line: the go command reports its download before it.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if got := strings.TrimSpace(lines[len(lines)-1]); got != version {
		return fmt.Errorf("GOTOOLCHAIN=%s go env GOVERSION printed %q, want %s", version, got, version)
	}
	return nil
}

// CopyToModule copies the .go files of the package in dir into a new
// module of its own, in a temp dir, whose go.mod asks for goLine (such as
// "1.24"), and returns the copy's directory. It lets a toolchain older than
// lockscope's own go.mod asks for build a testdata program.
func CopyToModule(t testing.TB, dir, goLine string) string {
	t.Helper()
	out := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no .go files in %s", dir)
	}
	mod := fmt.Sprintf("module example.com/copy\n\ngo %s\n", goLine)
	if err := os.WriteFile(filepath.Join(out, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

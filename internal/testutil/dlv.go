// Package testutil holds what several test packages need: the module
// root, a dlv binary built from the pinned Delve module, and the lines of
// the "// lockscope:<name>" markers in fixtures ([MarkerLine]).
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

// dlvBuild builds it once per test process.
var dlvBuild = sync.OnceValues(buildDlv)

// Dlv returns the path of a dlv built from the Delve version that go.mod
// pins, cached in os.TempDir()/lockscope-dlv-<version> across test
// processes. It builds into a private directory and renames, so that test
// packages running in parallel never see a half-written binary.
func Dlv(t testing.TB) string {
	t.Helper()
	bin, err := dlvBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func buildDlv() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/go-delve/delve")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/go-delve/delve: %w", err)
	}
	version := strings.TrimSpace(string(out))
	dir := filepath.Join(os.TempDir(), "lockscope-dlv-"+version)
	bin := filepath.Join(dir, "dlv")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "lockscope-dlv-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// go.mod lists cmd/dlv as a tool, so this builds offline from the
	// module cache with the pinned version.
	build := exec.Command("go", "build", "-o", filepath.Join(tmp, "dlv"), "github.com/go-delve/delve/cmd/dlv")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building dlv %s: %w\n%s", version, err, b)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(tmp, "dlv"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// ModuleRoot returns the folder of lockscope's go.mod, found above the
// test's working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// moduleRoot finds lockscope's go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

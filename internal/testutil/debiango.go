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

// DebianGoVersion is the Go release of Debian's oldest golang package that
// lockscope's tests use as a real older toolchain: older than the capture
// agent's go1.24, and the oldest whose runtime layouts the breakpoint
// recipes know.
const DebianGoVersion = "1.19"

// debianGoPackages hold it: the compiler and tools, and the standard
// library's source.
var debianGoPackages = []string{"golang-" + DebianGoVersion + "-go", "golang-" + DebianGoVersion + "-src"}

// debianGo fetches it once per test process.
var debianGo = sync.OnceValues(fetchDebianGo)

// DebianGo returns the GOROOT of Debian's Go 1.19 (its go command is
// bin/go there). Its packages are downloaded with apt-get (which needs no
// root for a download) and unpacked with dpkg-deb into
// os.UserCacheDir()/lockscope-tools, once per machine; nothing is
// installed. A download that fails is retried after an apt-get update when
// the test runs as root (a fresh machine has no package lists); otherwise
// the test fails and says how to fix it. An old toolchain that cannot be
// had fails the test rather than skip it: what it proves is never taken on
// trust.
func DebianGo(t testing.TB) string {
	t.Helper()
	root, err := debianGo()
	if err != nil {
		t.Fatalf("Go %s from Debian's %s: %v", DebianGoVersion, strings.Join(debianGoPackages, " and "), err)
	}
	return root
}

// DebianGoEnv is what a process needs in its environment for its go
// command to be Debian's Go at goroot (DebianGo): first on PATH, its own
// GOROOT, no toolchain switch, and none of the caller's GOFLAGS (a newer
// go command's flags may not exist in the old one).
func DebianGoEnv(goroot string) map[string]string {
	return map[string]string{
		"PATH":        filepath.Join(goroot, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GOROOT":      goroot,
		"GOTOOLCHAIN": "local",
		"GOFLAGS":     "",
	}
}

func fetchDebianGo() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "lockscope-tools", "debian-golang-"+DebianGoVersion)
	goroot := filepath.Join(dir, "usr", "lib", "go-"+DebianGoVersion)
	if _, err := os.Stat(filepath.Join(goroot, "bin", "go")); err == nil {
		return goroot, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// Unpack beside the cache and rename, so that a test process running at
	// the same time never sees half a toolchain.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "debian-golang-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	download := func() ([]byte, error) {
		cmd := exec.Command("apt-get", append([]string{"download"}, debianGoPackages...)...)
		cmd.Dir = tmp
		return cmd.CombinedOutput()
	}
	out, err := download()
	if err != nil && os.Geteuid() == 0 {
		if upd, uerr := exec.Command("apt-get", "update").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %w\n%s", uerr, upd)
		}
		out, err = download()
	}
	if err != nil {
		return "", fmt.Errorf("apt-get download %s: %w\n%s(run apt-get update first if the package lists are missing)", strings.Join(debianGoPackages, " "), err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != len(debianGoPackages) {
		return "", fmt.Errorf("apt-get download left %q, want one .deb for each of %v", debs, debianGoPackages)
	}
	root := filepath.Join(tmp, "root")
	for _, deb := range debs {
		if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
			return "", fmt.Errorf("dpkg-deb -x %s: %w\n%s", filepath.Base(deb), err, out)
		}
	}
	if err := os.Rename(root, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(goroot, "bin", "go")); serr == nil {
			return goroot, nil // another test process got there first
		}
		return "", err
	}
	return goroot, nil
}

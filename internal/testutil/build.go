package testutil

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildTestdata builds the program in testdata/<prog> (a module of its
// own, whose dependencies come through the module proxy, pinned by its
// go.sum) into the test's temporary folder, and returns the binary's path.
func BuildTestdata(t testing.TB, prog string) string {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "testdata", prog)
	bin := filepath.Join(t.TempDir(), filepath.Base(prog))
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in testdata/%s: %v\n%s", prog, err, out)
	}
	return bin
}

// RunTestdata runs a binary built by BuildTestdata with args, and fails
// the test if it fails.
func RunTestdata(t testing.TB, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
}

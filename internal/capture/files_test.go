//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The test makes a named pipe.

package capture

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Inputs that are not regular files are refused before they are opened
// for reading, and without reading them: a FIFO used to hang the adapter and
// analyze forever, and /dev/zero or a sparse file cost a gigabyte of memory.
func TestOpenInputRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "mutex.pb.gz")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zeroLink := filepath.Join(dir, "zero.pb.gz")
	if err := os.Symlink("/dev/zero", zeroLink); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop.pb.gz")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse.pb")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	empty := filepath.Join(dir, "empty.pb.gz")
	os.WriteFile(empty, nil, 0o600)

	for _, tc := range []struct {
		name, path, want string
	}{
		{"fifo", fifo, "not a regular file"},
		{"/dev/zero", "/dev/zero", "not a regular file"},
		{"symlink to /dev/zero", zeroLink, "not a regular file"},
		{"symlink loop", loop, "too many levels of symbolic links"},
		{"directory", dir, "is a directory"},
		{"1 GiB sparse file", sparse, "larger than"},
		{"empty file", empty, "empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, _, err := ReadInput(tc.path)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("ReadInput(%s): %v; want an error naming the file and saying %q", tc.path, err, tc.want)
				}
			case <-time.After(10 * time.Second):
				// Unblock the reader so the test binary can exit.
				if w, err := os.OpenFile(tc.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatalf("ReadInput(%s) did not return", tc.path)
			}
		})
	}
}

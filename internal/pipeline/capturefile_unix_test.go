//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package pipeline

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Asking whether a path is a saved capture never blocks: a FIFO (which
// would block an open for reading until a writer comes) is not one.
func TestIsCaptureFileRefusesAFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "capture.zip")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- IsCaptureFile(fifo) }()
	select {
	case is := <-done:
		if is {
			t.Error("a FIFO taken for a capture")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("IsCaptureFile blocked on a FIFO")
	}
}

//go:build linux

package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The peak grows with what this process touches, and stays when the
// pages go.
func TestPeakRSSKB(t *testing.T) {
	before, ok := PeakRSSKB()
	if !ok || before <= 0 {
		t.Fatalf("PeakRSSKB() = %d, %v; want a peak", before, ok)
	}
	// More than the peak so far (an earlier test may have set it), so
	// that the resident size must pass it by 64 MiB at least.
	grow := before*1024 + 64<<20
	buf := make([]byte, grow)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // touch every page, so that it is resident
	}
	after, _ := PeakRSSKB()
	runtime.KeepAlive(buf)
	if after < before+(64<<20)/1024 {
		t.Errorf("PeakRSSKB after touching %d MiB: %d KiB, from %d KiB before; want it to grow past %d MiB", grow>>20, after, before, grow>>20)
	}
	// buf is garbage now: its pages go back to the system, and the
	// resident size falls, but not its high-water mark (the kernel
	// updates it lazily, so a few pages may be lost; not the buffer).
	debug.FreeOSMemory()
	if again, _ := PeakRSSKB(); again < after*99/100 {
		t.Errorf("PeakRSSKB fell from %d KiB to %d KiB: a high-water mark stays", after, again)
	}
}

// childRSSEnv turns this test binary into the child of
// TestPeakRSSKBIsTheChilds (see TestMain).
const childRSSEnv = "LOCKSCOPE_TESTUTIL_RSS_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childRSSEnv) != "" {
		kb, _ := PeakRSSKB()
		fmt.Println(kb)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A small child of a large parent reports its own small peak: what wait4's
// rusage cannot tell (it carries the parent's pages over the exec).
func TestPeakRSSKBIsTheChilds(t *testing.T) {
	const parent = 256 << 20
	buf := make([]byte, parent)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRSSEnv+"=1")
	out, err := cmd.Output()
	runtime.KeepAlive(buf)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || kb <= 0 {
		t.Fatalf("the child printed %q (%v), want its peak in KiB", out, err)
	}
	if kb*1024 >= parent/4 {
		t.Errorf("the child's peak is %d KiB, want far below the parent's %d MiB", kb, parent>>20)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.Logf("child: VmHWM %d KiB; wait4's Maxrss %d KiB", kb, ru.Maxrss)
	}
}

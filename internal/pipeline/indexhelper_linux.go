package pipeline

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startLowPriority starts the index helper at a low CPU priority (helperNice).
// Linux keeps a nice value per thread, and a child inherits the value of
// the thread that forks it; exec keeps it, and every thread and process
// the helper starts inherits it in turn. So the fork is made from a
// thread of its own, lowered first, and that thread ends with the
// goroutine that locked it: the adapter's other threads keep their
// priority (and a process without privileges could not raise the
// thread's again). Setting the helper's priority after it started would
// miss the threads its runtime had started by then.
func startLowPriority(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go startFromLoweredThread(cmd, errc)
	return <-errc
}

// startFromLoweredThread locks a thread other than the main one, lowers
// its priority and starts cmd from it. The main thread is left alone: the
// runtime never ends it, and it is the one tools such as ps show for the
// whole process.
func startFromLoweredThread(cmd *exec.Cmd, errc chan<- error) {
	runtime.LockOSThread()
	if syscall.Gettid() == syscall.Getpid() {
		// Held while another goroutine, which cannot run on it, does
		// the work.
		inner := make(chan error, 1)
		go startFromLoweredThread(cmd, inner)
		err := <-inner
		runtime.UnlockOSThread()
		errc <- err
		return
	}
	// Never unlocked: the runtime ends the thread when the goroutine
	// returns.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, helperNice)
	errc <- cmd.Start()
}

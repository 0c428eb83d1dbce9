//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package capture

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// makeFIFO creates the agent's command pipe, readable and writable by this
// user only (its folder is 0700 too).
func makeFIFO(path string) error {
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	return nil
}

// writeCommand writes one command line into the agent's pipe without ever
// blocking: a line is far below PIPE_BUF, so it goes in whole or not at
// all, and a pipe nobody reads fails at once instead of waiting.
func writeCommand(path, line string) error {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ENXIO) {
		return errors.New("no program is reading lockscope's commands (it has exited, or has not started its agent)")
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	n, err := syscall.Write(fd, []byte(line))
	if errors.Is(err, syscall.EAGAIN) {
		return errors.New("the program is not reading lockscope's commands (is it stopped?)")
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	if n != len(line) {
		return fmt.Errorf("write %s: %d of %d bytes", path, n, len(line))
	}
	return nil
}

// hasReader reports whether a process holds the pipe open for reading: the
// agent does for as long as its program lives.
func hasReader(path string) bool {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	syscall.Close(fd)
	return true
}

// holdWriteEnd opens path for writing only, without waiting for a reader:
// a write-only open blocks (or fails with O_NONBLOCK) while the pipe has no
// reader, so it borrows one for a moment. Holding the write end only keeps
// hasReader true for the agent alone. The descriptor is close-on-exec.
func holdWriteEnd(path string) (*os.File, error) {
	rw, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(rw)
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

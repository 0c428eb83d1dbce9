//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package capture

import (
	"errors"
	"os"
)

var errNoFIFO = errors.New("the capture agent needs a named pipe (FIFO), which this system does not have")

func makeFIFO(path string) error { return errNoFIFO }

func writeCommand(path, line string) error { return errNoFIFO }

func hasReader(path string) bool { return false }

func holdWriteEnd(path string) (*os.File, error) { return nil, errNoFIFO }

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package capture

import (
	"errors"
	"os"
	"runtime"
)

// errNoFIFO is what injecting the agent says here, at run time: the rest
// of lockscope (debugging, profiles and traces from files or a URL) works
// on this system.
var errNoFIFO = errors.New("the capture agent needs a named pipe (FIFO), which " + runtime.GOOS +
	" does not have; it runs on Linux, macOS and the BSDs. Here, give lockscope profiles and traces from files or a net/http/pprof URL instead")

func makeFIFO(path string) error { return errNoFIFO }

func writeCommand(path, line string) error { return errNoFIFO }

func hasReader(path string) bool { return false }

func holdWriteEnd(path string) (*os.File, error) { return nil, errNoFIFO }

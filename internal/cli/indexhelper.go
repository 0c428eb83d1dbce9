package cli

import (
	"io"
	"os"
	"os/exec"

	"github.com/lockscope/lockscope/internal/pipeline"
)

// indexHelperCommand is the hidden subcommand in which `lockscope dap`
// runs the source index in a process of its own, at the lowest CPU
// priority (internal/pipeline's indexhelper.go says why). It is not for
// people: it speaks a private protocol on stdin and stdout, and the usage
// does not list it.
const indexHelperCommand = "__index"

// IndexHelper runs the index helper.
func IndexHelper(stdin io.Reader, stdout io.Writer) int {
	return pipeline.ServeIndexHelper(stdin, stdout)
}

// indexHelperCmd makes the helper's command from this very binary; nil
// when the binary cannot be found (the index then loads in the adapter).
func indexHelperCmd() func() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return func() *exec.Cmd { return exec.Command(exe, indexHelperCommand) }
}

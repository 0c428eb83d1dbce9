package session

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/testutil"
)

// A disconnect that leaves the program running tells the agent to stand
// down before Delve gets it; one that ends the program tells it nothing.
// The test reads the agent's pipe in the agent's place.
func TestDisconnectReleasesTheAgentFirst(t *testing.T) {
	for _, tc := range []struct {
		args       map[string]any
		wantDetach bool
	}{
		{map[string]any{"terminateDebuggee": false}, true},
		{map[string]any{"terminateDebuggee": true}, false},
		{nil, false},
	} {
		r := start(t)
		inj, err := capture.Prepare(capture.PrepareOptions{Program: filepath.Join(testutil.ModuleRoot(t), "testdata", "short"), Lifeline: true})
		if err != nil {
			t.Fatal(err)
		}
		defer inj.Close()
		fd, err := syscall.Open(filepath.Join(inj.RendezvousDir(), "cmd"), syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		r.s.ext.mu.Lock()
		r.s.ext.inj = inj
		r.s.ext.mu.Unlock()

		r.c.Send("disconnect", tc.args)
		if h, _ := r.read(t); h.Command != "disconnect" {
			t.Fatalf("Delve got %q, want the disconnect", h.Command)
		}
		// Delve has the disconnect: whatever the agent is told is in the
		// pipe by now.
		buf := make([]byte, 256)
		n, _ := syscall.Read(fd, buf)
		got := string(buf[:max(n, 0)])
		if detach := strings.HasSuffix(got, " 0 detach\n"); detach != tc.wantDetach {
			t.Errorf("disconnect %v: the agent's pipe holds %q; want a detach: %v", tc.args, got, tc.wantDetach)
		}
	}
}

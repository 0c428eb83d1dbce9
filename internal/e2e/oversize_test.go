package e2e

import (
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/dapx"
)

// A valid request too large for Delve's DAP reader (go-dap's 4 MiB) used to
// end the embedded Delve, and with it the session (error 7020); one above
// lockscope's own 16 MiB limit was read whole (a 200 MiB lockscope/load
// path cost 1.27 GB). Both are refused with 7004 before they reach Delve or
// a handler, the error quotes no more than a short prefix, and the session
// goes on.
func TestOversizedRequestsAreRefused(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	initialize(t, c)
	for _, tc := range []struct {
		command string
		args    map[string]any
	}{
		{"evaluate", map[string]any{"expression": strings.Repeat("x", 5<<20), "context": "repl"}},
		{dapx.CommandLoad, map[string]any{"path": "/tmp/" + strings.Repeat("p", 17<<20)}},
	} {
		resp := c.CallErr(t, tc.command, tc.args)
		if resp.ErrorID() != dapx.ErrTooLarge {
			t.Errorf("%s: answered %.300s, want error %d", tc.command, resp.Raw, dapx.ErrTooLarge)
		}
		if len(resp.Raw) > 2<<10 {
			t.Errorf("%s: the error is %d bytes; it must not echo the request", tc.command, len(resp.Raw))
		}
		// Delve is still there: before a launch it answers threads with
		// its own error, not lockscope's "Delve went away".
		if r := c.Response(t, c.Send("threads", nil)); r.ErrorID() == dapx.ErrBackend {
			t.Fatalf("after %s, Delve is gone: %s", tc.command, r.Raw)
		}
	}
	// A path too long for any file system but under the limit is refused
	// as bad arguments, quoting its start only.
	resp := c.CallErr(t, dapx.CommandLoad, map[string]any{"path": "/tmp/" + strings.Repeat("q", 1<<20)})
	if resp.ErrorID() != dapx.ErrBadArguments || len(resp.Raw) > 2<<10 {
		t.Errorf("a 1 MiB path: answered %.300s (%d bytes), want a short error %d", resp.Raw, len(resp.Raw), dapx.ErrBadArguments)
	}
}

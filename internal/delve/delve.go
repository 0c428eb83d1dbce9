// Package delve starts the Delve DAP server that a lockscope session talks
// to: embedded in this process by default, or an external `dlv dap`.
//
// Either way the result is a [Backend]: a byte stream carrying DAP. The
// session never cares which one it has.
package delve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/go-delve/delve/pkg/goversion"
	"github.com/go-delve/delve/pkg/logflags"
	"github.com/go-delve/delve/service"
	dlvdap "github.com/go-delve/delve/service/dap"
	"github.com/go-delve/delve/service/debugger"
)

// Backend is a running Delve DAP server with one client connection.
type Backend interface {
	// Conn carries DAP to and from Delve.
	Conn() io.ReadWriteCloser
	// Done is closed when Delve has ended the session (after a disconnect,
	// or when it quit on its own).
	Done() <-chan struct{}
	// Close ends the backend and releases everything it started. It is safe
	// to call more than once.
	Close() error
	// Name says which backend this is, for logs and messages.
	Name() string
}

// SetupLogging turns on Delve's own logs (layers "dap" and "debugger") to
// dest, or to stderr when dest is empty. Delve never writes logs to stdout.
func SetupLogging(dest string) error {
	return logflags.Setup(true, "dap,debugger", dest)
}

// MinGoVersion is the oldest Go the embedded Delve supports ("go1.25" for
// Delve 1.27). Like `dlv dap --check-go-version=false`, it debugs an older
// one anyway and writes "WARNING: undefined behavior" only to lockscope's
// log, so the session tells the user itself.
var MinGoVersion = fmt.Sprintf("go%d.%d", goversion.MinSupportedVersionOfGoMajor, goversion.MinSupportedVersionOfGoMinor)

// embedded runs Delve's DAP session in this process over a net.Pipe, so
// users install nothing but lockscope.
type embedded struct {
	conn      net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

// StartEmbedded starts Delve's DAP session in this process.
func StartEmbedded() (Backend, error) {
	ours, theirs := net.Pipe()
	disconnected := make(chan struct{})
	cfg := &dlvdap.Config{
		Config: &service.Config{
			DisconnectChan: disconnected,
			// The same debugger settings as `dlv dap`, so that behaviour
			// matches the peer it is measured against.
			Debugger: debugger.Config{
				Backend:    "default",
				Foreground: true,
			},
		},
		// NewSession calls os.Exit when this is nil.
		StopTriggered: make(chan struct{}),
	}
	sess := dlvdap.NewSession(theirs, cfg, nil)
	e := &embedded{conn: ours, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		sess.ServeDAPCodec()
		// ServeDAPCodec returns when the connection closes or the client
		// disconnected; Close kills a launched debuggee that is still there.
		sess.Close()
	}()
	return e, nil
}

func (e *embedded) Conn() io.ReadWriteCloser { return e.conn }
func (e *embedded) Done() <-chan struct{}    { return e.done }
func (e *embedded) Name() string             { return "embedded Delve" }

func (e *embedded) Close() error {
	e.closeOnce.Do(func() { e.conn.Close() })
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("embedded Delve did not stop within 10s")
	}
	return nil
}

// external runs `dlv dap` as a child process and talks to it over TCP on
// loopback, the way vscode-go does.
type external struct {
	path      string
	cmd       *exec.Cmd
	conn      net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

// StartExternal starts `<path> dap --listen=127.0.0.1:0 [flags]` in dir and
// connects to it. Delve's own output goes to logw, never to stdout.
func StartExternal(ctx context.Context, path, dir string, flags []string, logw io.Writer, log *slog.Logger) (Backend, error) {
	args := append([]string{"dap", "--listen=127.0.0.1:0"}, flags...)
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stderr = logw
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	x := &external{path: path, cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent {
				if a, ok := strings.CutPrefix(line, "DAP server listening at: "); ok {
					addrc <- strings.TrimSpace(a)
					sent = true
					continue
				}
			}
			// Debuggee output in "local" mode lands here; it must never
			// reach our stdout, which carries DAP.
			fmt.Fprintln(logw, line)
		}
		if !sent {
			close(addrc)
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(x.done)
	}()
	var addr string
	select {
	case a, ok := <-addrc:
		if !ok {
			x.Close()
			return nil, fmt.Errorf("%s dap exited before it printed its address", path)
		}
		addr = a
	case <-x.done:
		return nil, fmt.Errorf("%s dap exited before it printed its address", path)
	case <-time.After(30 * time.Second):
		x.Close()
		return nil, fmt.Errorf("%s dap printed no address within 30s", path)
	case <-ctx.Done():
		x.Close()
		return nil, ctx.Err()
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		x.Close()
		return nil, fmt.Errorf("connecting to %s at %s: %w", path, addr, err)
	}
	x.conn = conn
	log.Debug("external Delve started", "path", path, "addr", addr, "pid", cmd.Process.Pid)
	return x, nil
}

func (x *external) Conn() io.ReadWriteCloser { return x.conn }
func (x *external) Done() <-chan struct{}    { return x.done }
func (x *external) Name() string             { return "external " + x.path }

func (x *external) Close() error {
	x.closeOnce.Do(func() {
		if x.conn != nil {
			x.conn.Close()
		}
		// dlv dap exits by itself once its client is gone; give it a moment
		// to kill its debuggee, then make sure.
		select {
		case <-x.done:
		case <-time.After(5 * time.Second):
			_ = x.cmd.Process.Signal(os.Interrupt)
			select {
			case <-x.done:
			case <-time.After(2 * time.Second):
				_ = x.cmd.Process.Kill()
				<-x.done
			}
		}
	})
	return nil
}

package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lockscope/lockscope/internal/delve"
	"github.com/lockscope/lockscope/internal/session"
)

// Dap runs `lockscope dap`.
func Dap(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lockscope dap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "serve one client on this TCP address (e.g. 127.0.0.1:0) instead of stdio")
	allowNonLoopback := fs.Bool("allow-non-loopback", false, "allow --listen on a non-loopback address (whoever connects can run programs)")
	dlvPath := fs.String("dlv", "", "use this external `dlv` binary instead of the embedded Delve")
	logOn := fs.Bool("log", false, "log, including every DAP message in both directions")
	logDest := fs.String("log-dest", "", "write logs to this file instead of stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lockscope dap: unexpected arguments %q\n", fs.Args())
		return 2
	}

	logw := stderr
	var logger *slog.Logger
	if *logOn {
		if *logDest != "" {
			f, err := os.OpenFile(*logDest, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				fmt.Fprintf(stderr, "lockscope dap: %v\n", err)
				return 1
			}
			defer f.Close()
			logw = f
		}
		logger = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if err := delve.SetupLogging(*logDest); err != nil {
			fmt.Fprintf(stderr, "lockscope dap: %v\n", err)
			return 1
		}
	}
	opts := session.Options{Log: logger, Traffic: *logOn, DlvPath: *dlvPath, DelveLogw: stderr, IndexHelper: indexHelperCmd()}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	if *listen == "" {
		// stdout belongs to DAP alone. Keep the real stdout for the
		// session and point fd 1 at stderr, so that nothing else that
		// writes to it (a library, a child that inherits it, a debuggee in
		// "local" output mode) can corrupt the stream.
		out, err := protectStdout(stdout)
		if err != nil {
			fmt.Fprintf(stderr, "lockscope dap: %v\n", err)
			return 1
		}
		if err := session.New(stdin, out, opts).Serve(ctx); err != nil {
			fmt.Fprintf(stderr, "lockscope dap: %v\n", err)
			return 1
		}
		return 0
	}

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "lockscope dap: bad --listen address %q: %v\n", *listen, err)
		return 2
	}
	if !isLoopback(host) {
		if !*allowNonLoopback {
			fmt.Fprintf(stderr, "lockscope dap: refusing to listen on non-loopback address %q: whoever connects can run programs on this machine; pass --allow-non-loopback to do it anyway\n", *listen)
			return 2
		}
		fmt.Fprintf(stderr, "lockscope dap: WARNING: listening on non-loopback address %s: whoever connects can run programs on this machine\n", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "lockscope dap: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "DAP server listening at: %s\n", ln.Addr())
	connc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			connc <- c
		}
		close(connc)
	}()
	var conn net.Conn
	select {
	case c, ok := <-connc:
		if !ok {
			return 1
		}
		conn = c
	case <-ctx.Done():
		ln.Close()
		return 0
	}
	// One client only, as with dlv dap.
	ln.Close()
	defer conn.Close()
	if err := session.New(conn, conn, opts).Serve(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(stderr, "lockscope dap: %v\n", err)
		return 1
	}
	return 0
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

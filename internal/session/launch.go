package session

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/delve"
	"github.com/lockscope/lockscope/internal/transport"
)

// launchInfo is what the session learned from the launch or attach request.
type launchInfo struct {
	Request    string // "launch" | "attach"
	Mode       string // debug | test | exec | local | remote | ...
	Program    string // absolute, when it names a path
	ProgramDir string
	Config     dapx.LaunchConfig
}

// launchPlan is a launch or attach request rewritten for Delve.
type launchPlan struct {
	client  json.RawMessage            // the arguments as the client sent them
	args    map[string]json.RawMessage // what Delve gets, once prepared
	info    launchInfo
	dlvPath string // the launch's own dlvPath attribute
	// dlvFlags is the launch's dlvFlags attribute: vscode-go's extra
	// flags for the dlv it starts, passed to an external dlv.
	dlvFlags []string
}

// testHookLaunch, when set by a test, runs at the start of every launch
// (a test makes it panic).
var testHookLaunch func()

// onLaunch rewrites a launch or attach request before Delve sees it:
//   - it strips the lockscope attribute (and dlvPath) and acts on them;
//   - it makes a relative program absolute and, unless dlvCwd is set, builds
//     in the program's folder, so that a program in another module builds
//     (Delve builds from its own working directory otherwise);
//   - it sends the program's output to the client as output events unless the
//     launch chose otherwise, so nothing but DAP ever reaches our stdout;
//   - it lets the extension add the capture agent and -race.
//
// It runs off the client read loop, in a goroutine of goRequest (it may
// build an overlay or start an external dlv); the client's next requests
// are held until it is done.
func (s *Session) onLaunch(h transport.Header, msg []byte) {
	defer func() {
		if r := recover(); r != nil {
			// Undo what the launch had set up (the agent's folder), then
			// let goRequest answer the request.
			s.ext.launchFailed()
			panic(r)
		}
	}()
	if testHookLaunch != nil {
		testHookLaunch()
	}
	if s.ext.hasStarted() {
		// Delve refuses it too, but only after lockscope had prepared an
		// agent folder for it: one folder left per attempt.
		s.sendError(h.Seq, h.Command, dapx.ErrBadArguments, "Failed to launch",
			"a debug session is already in progress; one launch or attach per session", true)
		return
	}
	raw := transport.Raw(msg, h.Arguments)
	p, rerr := parseLaunch(h.Command, raw)
	if rerr == nil {
		rerr = s.ext.prepare(&p)
	}
	if rerr != nil {
		s.sendError(h.Seq, h.Command, rerr.id, rerr.summary, rerr.details, true)
		return
	}
	// An external dlv runs with the launch's dlvFlags: one of its own, or
	// the --dlv one started again with them.
	dlv := p.dlvPath
	if dlv == "" {
		dlv = s.opts.DlvPath
	}
	if dlv == "" && len(p.dlvFlags) > 0 {
		if ignored := delve.EmbeddedIgnores(p.dlvFlags); len(ignored) > 0 {
			s.ext.console(fmt.Sprintf("lockscope: dlvFlags %q are for an external dlv (dlvPath); the Delve embedded in lockscope does not take them", ignored))
		}
	}
	if dlv != "" && (dlv != s.opts.DlvPath || len(p.dlvFlags) > 0) {
		if err := s.switchToExternal(dlv, p.info.ProgramDir, p.dlvFlags); err != nil {
			s.ext.launchFailed()
			s.sendError(h.Seq, h.Command, dapx.ErrBackend, "Failed to launch", err.Error(), true)
			return
		}
	}
	newArgs, err := json.Marshal(p.args)
	if err != nil {
		s.sendError(h.Seq, h.Command, dapx.ErrLaunchRewrite, "Failed to launch", err.Error(), true)
		return
	}
	out := replaceSpan(msg, h.Arguments, newArgs)
	nh, err := transport.Peek(out)
	if err != nil {
		s.sendError(h.Seq, h.Command, dapx.ErrLaunchRewrite, "Failed to launch", err.Error(), true)
		return
	}
	s.ext.setLaunchInfo(p.info)
	s.ext.launched(p.client, newArgs, p.dlvPath)
	s.forward(nh, out, origin{clientSeq: h.Seq, command: h.Command})
}

// parseLaunch reads and rewrites a launch or attach request's arguments
// without starting anything, so that a restart can check the new
// configuration before it ends the running program.
func parseLaunch(command string, raw json.RawMessage) (launchPlan, *reqError) {
	fail := func(id int, details string) (launchPlan, *reqError) {
		return launchPlan{}, &reqError{id: id, summary: "Failed to launch", details: details, showUser: true}
	}
	args := map[string]json.RawMessage{}
	if raw != nil {
		if err := json.Unmarshal(raw, &args); err != nil {
			return fail(dapx.ErrBadArguments, "arguments are not an object: "+err.Error())
		}
	}
	p := launchPlan{client: raw, args: args, info: launchInfo{Request: command}}
	info := &p.info
	if raw, ok := args["lockscope"]; ok {
		cfg, err := dapx.ParseLaunchConfig(raw)
		if err != nil {
			return fail(dapx.ErrLaunchRewrite, err.Error())
		}
		info.Config = cfg
		delete(args, "lockscope")
	}
	if raw, ok := args["dlvPath"]; ok {
		_ = json.Unmarshal(raw, &p.dlvPath)
		delete(args, "dlvPath")
	}
	if raw, ok := args["dlvFlags"]; ok {
		if err := json.Unmarshal(raw, &p.dlvFlags); err != nil {
			return fail(dapx.ErrBadArguments, "dlvFlags must be a list of strings, such as [\"--check-go-version=false\"]")
		}
		if err := delve.CheckExternalFlags(p.dlvFlags); err != nil {
			return fail(dapx.ErrBadArguments, err.Error())
		}
		delete(args, "dlvFlags")
	}
	info.Mode = stringArg(args, "mode")
	if info.Mode == "" && command == "launch" {
		info.Mode = "debug"
	}
	if info.Mode == "auto" && command == "launch" {
		// vscode-go's "auto", which Delve does not know: a _test.go file
		// means test mode, anything else debug.
		info.Mode = "debug"
		if strings.HasSuffix(stringArg(args, "program"), "_test.go") {
			info.Mode = "test"
		}
		setString(args, "mode", info.Mode)
	}
	if p := stringArg(args, "program"); info.Mode == "test" && strings.HasSuffix(p, "_test.go") {
		// As vscode-go does: a test file stands for its package, whose
		// other files the tests need.
		setString(args, "program", filepath.Dir(p))
	}
	if prog := stringArg(args, "program"); prog != "" && command == "launch" {
		if abs, dir, ok := resolveProgram(prog); ok {
			info.Program, info.ProgramDir = abs, dir
			setString(args, "program", abs)
			if _, ok := args["dlvCwd"]; !ok && (info.Mode == "debug" || info.Mode == "test") {
				setString(args, "dlvCwd", dir)
			}
		}
	}
	if command == "launch" {
		if _, ok := args["outputMode"]; !ok {
			_, hasStdout := args["stdoutTo"]
			_, hasStderr := args["stderrTo"]
			if !hasStdout && !hasStderr {
				setString(args, "outputMode", "remote")
			}
		}
	}
	return p, nil
}

// switchToExternal replaces the embedded Delve (or the --dlv one) with an
// external dlv, asked for by the launch attributes dlvPath and dlvFlags. The client already initialized the
// embedded one, so the session replays its initialize request to the new
// backend and keeps the response to itself.
func (s *Session) switchToExternal(dlvPath, dir string, flags []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := s.opts.StartBackend(ctx, dlvPath, dir, flags)
	if err != nil {
		return err
	}
	old := s.currentBackend()
	s.setBackend(b)
	s.mu.Lock()
	initArgs := s.initArgs
	s.mu.Unlock()
	if initArgs != nil {
		if _, _, err := s.call(ctx, "initialize", initArgs); err != nil {
			return fmt.Errorf("initializing %s: %w", b.Name(), err)
		}
	}
	if old != nil {
		go old.b.Close()
	}
	return nil
}

// resolveProgram makes a program path absolute and finds its folder. It
// reports false for a package import path, which is left to Delve.
func resolveProgram(p string) (abs, dir string, ok bool) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", "", false
	}
	st, err := os.Stat(a)
	if err != nil {
		return "", "", false
	}
	if st.IsDir() {
		return a, a, true
	}
	return a, filepath.Dir(a), true
}

func stringArg(args map[string]json.RawMessage, key string) string {
	var v string
	if raw, ok := args[key]; ok {
		_ = json.Unmarshal(raw, &v)
	}
	return v
}

func setString(args map[string]json.RawMessage, key, v string) {
	raw, _ := json.Marshal(v)
	args[key] = raw
}

// replaceSpan returns msg with span sp replaced by v; when sp is absent,
// v is added as "arguments".
func replaceSpan(msg []byte, sp transport.Span, v []byte) []byte {
	if !sp.Valid() {
		i := len(msg) - 1
		for i > 0 && msg[i] != '}' {
			i--
		}
		out := append([]byte{}, msg[:i]...)
		out = append(out, `,"arguments":`...)
		out = append(out, v...)
		return append(out, msg[i:]...)
	}
	out := make([]byte, 0, len(msg)+len(v))
	out = append(out, msg[:sp.Start]...)
	out = append(out, v...)
	return append(out, msg[sp.End:]...)
}

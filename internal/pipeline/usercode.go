package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/lockscope/lockscope/internal/usercode"
)

// LearnUserCode asks the go command, once, which modules are the user's
// code in dir (the main module, and the workspace's modules under a
// go.work) and where its GOROOT is, and gives every later analysis that
// rule (see internal/usercode). StartIndex calls it; the go command runs
// before the program does, as the embedded Delve requires of every child
// process. On error the analyses fall back on paths and names, and the
// report says why.
func (p *Pipeline) LearnUserCode(dir string) {
	r, err := ModulesIn(dir)
	if err != nil {
		p.b.AddNote("the program's modules are unknown (%v): the user's code is told by paths and names", err)
	}
	p.mu.Lock()
	p.code = r
	p.mu.Unlock()
	p.b.SetUserCode(r)
}

// UserCode returns the rule given to the analyses.
func (p *Pipeline) UserCode() usercode.Rules {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// ModulesIn runs `go list -m -json` and `go env GOROOT` in dir. A folder
// outside any module has no main module ("command-line-arguments" is the
// go command's name for loose files, not a module): the rules then carry
// the GOROOT only.
func ModulesIn(dir string) (usercode.Rules, error) {
	var r usercode.Rules
	env := exec.Command("go", "env", "GOROOT")
	env.Dir = dir
	if out, err := env.Output(); err == nil {
		r.GOROOT = strings.TrimSpace(string(out))
	}
	cmd := exec.Command("go", "list", "-m", "-json")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return r, fmt.Errorf("go list -m in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	mods, err := parseModules(out)
	if err != nil {
		return r, fmt.Errorf("go list -m in %s: %w", dir, err)
	}
	r.Modules = mods
	return r, nil
}

// parseModules reads the stream of JSON objects `go list -m -json`
// prints, one per main module.
func parseModules(out []byte) ([]usercode.Module, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	var mods []usercode.Module
	for {
		var m struct {
			usercode.Module
			Main bool
		}
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return mods, nil
		}
		if err != nil {
			return nil, err
		}
		if m.Main && m.Path != "" && m.Path != "command-line-arguments" {
			mods = append(mods, m.Module)
		}
	}
}

package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/lockscope/lockscope/internal/usercode"
)

// LearnUserCode learns, once, which modules are the user's code in dir
// (the main module, and the workspace's modules under a go.work) and
// where its GOROOT is, and gives every later analysis that rule (see
// internal/usercode). StartIndex calls it. The go command runs before the
// program does, as the embedded Delve requires of every child process, and
// only when its last answer for dir no longer holds (gofacts.go). On error
// the analyses fall back on paths and names, and the report says why.
func (p *Pipeline) LearnUserCode(dir string) {
	p.learnGoFacts(dir)
}

// learnGoFacts is LearnUserCode, returning the facts for the Go version.
func (p *Pipeline) learnGoFacts(dir string) goFacts {
	f, err := goFactsIn(dir)
	if err != nil && len(f.Modules) == 0 {
		p.b.AddNote("the program's modules are unknown (%v): the user's code is told by paths and names", err)
	}
	r := f.rules()
	p.mu.Lock()
	p.code = r
	p.mu.Unlock()
	p.b.SetUserCode(r)
	return f
}

// UserCode returns the rule given to the analyses.
func (p *Pipeline) UserCode() usercode.Rules {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
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

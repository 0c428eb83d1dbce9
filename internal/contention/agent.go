package contention

import (
	"path/filepath"
	"strings"
)

// The names of lockscope's own capture agent, which internal/capture
// injects into the user's program. Its frames show in the program's
// profiles, traces and goroutine dumps, and every analysis leaves them out:
// the agent is lockscope's doing, not the user's contention.
const (
	// AgentFileName is the agent's file inside the user's package.
	AgentFileName = "zz_lockscope_agent.go"
	// AgentFuncPrefix starts the name of every function of the agent
	// (main.lockscopeAgentSaveProfiles, main.lockscopeAgentRun.func1).
	AgentFuncPrefix = "lockscopeAgent"
)

// IsAgentFrame reports whether a frame (its file, its function, either may
// be empty) belongs to lockscope's agent.
func IsAgentFrame(file, function string) bool {
	if filepath.Base(file) == AgentFileName {
		return true
	}
	fn := function
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:]
	}
	_, name, _ := strings.Cut(fn, ".")
	// A method: main.(*lockscopeAgentBuffer).Write.
	name = strings.TrimPrefix(strings.TrimPrefix(name, "("), "*")
	return strings.HasPrefix(name, AgentFuncPrefix)
}

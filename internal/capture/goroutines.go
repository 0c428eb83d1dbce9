package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Goroutines returns every goroutine's stack, as the goroutine profile
// writes it with debug=2 (and runtime.Stack(buf, true)): the state of each
// goroutine, "[sync.Mutex.Lock]" for one waiting in Lock, and its frames
// with arguments. It stops the program's world for the time it takes
// (about a microsecond per goroutine). internal/stuck reads it.
func (a *Agent) Goroutines(ctx context.Context) ([]byte, error) {
	return a.do(ctx, "goroutines", agentWait)
}

// Blocked reports whether the agent found every goroutine of the program
// blocked and stepped aside, and when: it saved its final files
// (profiles, the goroutine dump as "goroutines", the traces) and stopped
// everything that would keep the runtime from seeing a deadlock, so that
// the runtime ends the program as it would without the agent ("all
// goroutines are asleep - deadlock!"). Blocked turns false if the
// program lives on after all (a timer the dump could not show): the agent
// comes back at its next garbage collection, or the program ends by
// itself through its exit hooks. analyze ends its run on it; the agent's
// pipe is closed meanwhile, so commands fail.
func (inj *Injection) Blocked() (at time.Time, blocked bool, err error) {
	data, err := os.ReadFile(filepath.Join(inj.rendezvous, "blocked.json"))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("capture: %w", err)
	}
	var b struct {
		UnixMs int64 `json:"unixMs"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return time.Time{}, false, fmt.Errorf("capture: the agent's blocked.json: %w", err)
	}
	return time.UnixMilli(b.UnixMs), true, nil
}

package capture

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// TokenHeader carries the per-run token on every request to the agent.
const TokenHeader = "X-Lockscope-Token"

// MaxTraceSeconds caps a trace window (the agent caps it too): traces grow
// by megabytes a second on a busy program.
const MaxTraceSeconds = 60

// MaxAgentBody caps what lockscope reads from its own agent.
const MaxAgentBody = 512 << 20

// Agent is a client of one running agent.
type Agent struct {
	Addr string // 127.0.0.1:port
	Pid  int    // the program's process id, as the agent reported it

	token  string
	client *http.Client
}

func newAgent(addr, token string, pid int) *Agent {
	return &Agent{
		Addr:  addr,
		Pid:   pid,
		token: token,
		// No proxy: the agent is on loopback, and an HTTP_PROXY from the
		// environment must never see the token.
		client: &http.Client{Transport: &http.Transport{Proxy: nil}},
	}
}

// Profile fetches a profile ("mutex", "block" or "goroutine") as a gzipped
// pprof proto.
func (a *Agent) Profile(ctx context.Context, kind string) ([]byte, error) {
	return a.get(ctx, "/lockscope/v1/profile/"+url.PathEscape(kind))
}

// Trace records the next seconds of execution trace (capped at
// MaxTraceSeconds) and returns it. If the program exits meanwhile, the
// request fails and the cut window is in Injection.Final as "trace-window".
func (a *Agent) Trace(ctx context.Context, seconds float64) ([]byte, error) {
	if seconds > MaxTraceSeconds {
		seconds = MaxTraceSeconds
	}
	return a.get(ctx, "/lockscope/v1/trace?seconds="+strconv.FormatFloat(seconds, 'f', -1, 64))
}

// LastTrace returns the flight recorder's window: the last moments before
// the call. It fails when the injection had no Flight window.
func (a *Agent) LastTrace(ctx context.Context) ([]byte, error) {
	return a.get(ctx, "/lockscope/v1/trace?mode=last")
}

func (a *Agent) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.Addr+path, nil)
	if err != nil {
		return nil, fmt.Errorf("capture: agent: %w", err)
	}
	req.Header.Set(TokenHeader, a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("capture: agent at %s: %w", a.Addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAgentBody+1))
	if err != nil {
		return nil, fmt.Errorf("capture: agent at %s: %w", a.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("capture: agent at %s: %s: %s", a.Addr, resp.Status, firstLine(body))
	}
	if len(body) > MaxAgentBody {
		return nil, fmt.Errorf("capture: agent at %s: answer larger than %d bytes", a.Addr, MaxAgentBody)
	}
	return body, nil
}

// CloseIdle drops kept-alive connections to the agent.
func (a *Agent) CloseIdle() { a.client.CloseIdleConnections() }

func firstLine(b []byte) string {
	s := string(b)
	for i, c := range s {
		if c == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

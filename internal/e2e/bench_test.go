package e2e

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

// stoppedAtAdd launches basic and stops at the add breakpoint; it returns
// the thread and the top frame.
func stoppedAtAdd(b *testing.B, c *daptest.Client, extra map[string]any) (thread, frame int) {
	args := map[string]any{"request": "launch", "mode": "debug", "program": testdataDir("basic"), "outputMode": "remote"}
	for k, v := range extra {
		args[k] = v
	}
	launch(b, c, args)
	setBreakpoints(b, c, basicMain(), map[string]any{"line": testutil.MarkerLine(b, basicMain(), "add-body")})
	c.Call(b, "configurationDone", nil)
	st := c.Stopped(b)
	frames := c.StackTrace(b, st.ThreadID)
	return st.ThreadID, frames[0].ID
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

// BenchmarkRoundTrip compares request latency through `lockscope dap`
// (stdio, as VS Code runs it) with plain `dlv dap` over TCP (as vscode-go
// talks to it), alternating the two in one run.
func BenchmarkRoundTrip(b *testing.B) {
	plain := startPlainDlv(b)
	pThread, pFrame := stoppedAtAdd(b, plain, nil)
	a := startAdapter(b)
	lThread, lFrame := stoppedAtAdd(b, a.c, map[string]any{"lockscope": map[string]any{"capture": "off"}})

	type req struct {
		name string
		args func(thread, frame int) any
	}
	reqs := []req{
		{"threads", func(int, int) any { return nil }},
		{"stackTrace", func(th, _ int) any { return map[string]any{"threadId": th, "levels": 20} }},
		{"evaluate", func(_, fr int) any { return map[string]any{"expression": "a + b", "frameId": fr, "context": "watch"} }},
	}
	n := 300
	if b.N > n {
		n = b.N
	}
	for _, r := range reqs {
		var pd, ld []time.Duration
		for i := 0; i < n; i++ {
			t0 := time.Now()
			plain.Call(b, r.name, r.args(pThread, pFrame))
			pd = append(pd, time.Since(t0))
			t0 = time.Now()
			a.c.Call(b, r.name, r.args(lThread, lFrame))
			ld = append(ld, time.Since(t0))
		}
		pm, lm := quantile(pd, 0.5), quantile(ld, 0.5)
		ratio := float64(lm) / float64(pm)
		b.Logf("%-10s dlv dap median %v p99 %v | lockscope dap median %v p99 %v | median ratio %.2f",
			r.name, pm, quantile(pd, 0.99), lm, quantile(ld, 0.99), ratio)
		b.ReportMetric(ratio, r.name+"-ratio")
		fmt.Printf("ROUNDTRIP %s plain_median_us=%.0f plain_p99_us=%.0f lockscope_median_us=%.0f lockscope_p99_us=%.0f ratio=%.2f\n",
			r.name, us(pm), us(quantile(pd, 0.99)), us(lm), us(quantile(ld, 0.99)), ratio)
	}
	plain.Call(b, "disconnect", nil)
	a.c.Call(b, "disconnect", nil)
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

package pipeline

import (
	"bytes"
	"context"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/report"
	"github.com/lockscope/lockscope/internal/stuck"
)

// The goroutine dumps kept for the stuck analysis are bounded in number
// and in bytes (a dump of a big program is megabytes). The first kept dump
// that shows a wait measures how long it has lasted, so the dumps kept
// are spread over the whole run rather than the last few: when one must
// go, it is the one whose neighbours are closest together (thinning keeps
// the oldest, the newest and roughly even gaps between).
const (
	maxSamples     = 8
	maxSampleBytes = 32 << 20
)

// stuckState is the goroutine dumps of the program that runs, and how they
// are judged.
type stuckState struct {
	threshold time.Duration
	samples   []report.GoroutineDump
	all       bool // the last dump was taken with every goroutine blocked
	// last and cost are when the last live dump was taken and how long it
	// paused the program, for SampleDue's budget.
	last time.Time
	cost time.Duration
}

// dumpCostPerGoroutine is what a goroutine dump pauses the program for,
// per goroutine: 67.5 ms for 10,000 goroutines, measured here. The pause
// itself cannot be seen from outside (the round trip through the agent's
// pipe is mostly waiting), so it is estimated from the dump.
const dumpCostPerGoroutine = 7 * time.Microsecond

// sampleBudget is the most of the program's time that live goroutine
// dumps may take: a dump stops the world for about a microsecond per
// goroutine (67 ms for 10,000 goroutines, measured), so a big program is
// sampled less often.
const sampleBudget = 0.02

// SamplePeriod is how often a driver should offer SampleGoroutines a
// chance: half the threshold, so that a wait of the threshold spans two
// dumps.
func (p *Pipeline) SamplePeriod() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.stuck.threshold
	if t <= 0 {
		t = stuck.DefaultThreshold
	}
	return max(t/2, 250*time.Millisecond)
}

// SetStuckThreshold sets how long a lock wait must last to be reported
// stuck (0: internal/stuck's default, 2 s). `--stuck-after` and the
// lockscope.stuckAfterSeconds attribute set it.
func (p *Pipeline) SetStuckThreshold(d time.Duration) {
	p.mu.Lock()
	p.stuck.threshold = d
	p.mu.Unlock()
}

// SampleGoroutines takes a goroutine dump from the running program's
// agent, and its block profile right after: a wait is stuck when the same
// goroutine sits in the very same Lock call in two dumps and the block
// profile shows no wait through that line ending in between (see
// internal/stuck). The dump pauses the program for about a microsecond
// per goroutine.
func (p *Pipeline) SampleGoroutines(ctx context.Context, agent *capture.Agent) error {
	dump, err := agent.Goroutines(ctx)
	if err != nil {
		return err
	}
	at := time.Now()
	n := bytes.Count(dump, []byte("\ngoroutine ")) + 1
	p.mu.Lock()
	p.stuck.last, p.stuck.cost = at, time.Duration(n)*dumpCostPerGoroutine
	p.mu.Unlock()
	block, err := agent.Profile(ctx, contention.KindBlock)
	if err != nil {
		block = nil // the dump still names waits of a minute and more
	}
	return p.addSample(report.GoroutineDump{At: at, Dump: dump, Block: block}, false)
}

// SampleDue reports whether a periodic goroutine dump fits the budget: at
// most sampleBudget of the program's time goes to the pauses of dumps, so
// a program with many goroutines is sampled less often.
func (p *Pipeline) SampleDue() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stuck.last.IsZero() || time.Since(p.stuck.last) >= time.Duration(float64(p.stuck.cost)/sampleBudget)
}

// ClearGoroutines forgets the dumps taken so far. The session calls it
// when the program stops at a breakpoint: time spent paused is not time
// spent waiting for a lock.
func (p *Pipeline) ClearGoroutines() {
	p.mu.Lock()
	p.stuck.samples, p.stuck.all = nil, false
	p.mu.Unlock()
	_ = p.b.SetGoroutines(nil, report.StuckOptions{})
}

// BlockedFinal adds the dump the agent saved when it found every goroutine
// of the program blocked and stepped aside for the runtime to end it. It
// reports whether that happened.
func (p *Pipeline) BlockedFinal(inj *capture.Injection) (bool, error) {
	at, blocked, err := inj.Blocked()
	if err != nil || !blocked {
		return false, err
	}
	files, _, err := inj.Final()
	if err != nil {
		return true, err
	}
	if files["goroutines"] == nil {
		return true, nil
	}
	return true, p.addSample(report.GoroutineDump{At: at, Dump: files["goroutines"], Block: files[contention.KindBlock]}, true)
}

// addSample keeps a dump and gives the kept ones to the report.
func (p *Pipeline) addSample(d report.GoroutineDump, allBlocked bool) error {
	p.mu.Lock()
	s := &p.stuck
	s.samples = thin(append(s.samples, d))
	s.all = allBlocked
	samples := append([]report.GoroutineDump(nil), s.samples...)
	o := report.StuckOptions{Threshold: s.threshold, AllBlocked: allBlocked,
		Source: contention.Source{Origin: contention.OriginAgent}}
	p.mu.Unlock()
	return p.b.SetGoroutines(samples, o)
}

// thin drops dumps, oldest-first in time order, until at most maxSamples
// and maxSampleBytes remain (two at least): each time the one between the
// two closest neighbours.
func thin(samples []report.GoroutineDump) []report.GoroutineDump {
	size := func() int {
		n := 0
		for _, d := range samples {
			n += len(d.Dump) + len(d.Block)
		}
		return n
	}
	for len(samples) > 2 && (len(samples) > maxSamples || size() > maxSampleBytes) {
		drop, gap := 1, time.Duration(-1)
		for i := 1; i < len(samples)-1; i++ {
			if g := samples[i+1].At.Sub(samples[i-1].At); gap < 0 || g < gap {
				drop, gap = i, g
			}
		}
		samples = append(samples[:drop], samples[drop+1:]...)
	}
	return samples
}

package profiles

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// checksCtx counts the analysis's looks at its context and, when stopAt is
// set, cancels itself at that look: a cancel in the middle of the samples,
// at a known point, with no timer to race.
type checksCtx struct {
	context.Context
	cancel context.CancelFunc
	stopAt int
	checks int
}

func newChecksCtx(stopAt int) *checksCtx {
	ctx, cancel := context.WithCancel(context.Background())
	return &checksCtx{Context: ctx, cancel: cancel, stopAt: stopAt}
}

func (c *checksCtx) Err() error {
	c.checks++
	if c.checks == c.stopAt {
		c.cancel()
	}
	return c.Context.Err()
}

var stoppedRx = regexp.MustCompile(`stopped after (\d+) samples`)

// TestAnalysisCancelledMidway cancels the analysis of a large synthesized
// profile part-way through its samples, on the fast decoder and on a
// parsed profile. It must stop at that look with an error that wraps
// context.Canceled, without a single look more; an uncancelled run must
// look between batches (many times) and give the same result as one with
// context.Background.
func TestAnalysisCancelledMidway(t *testing.T) {
	const samples = 40 * cancelEvery
	p := synthProfile(samples, 3)
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	runs := []struct {
		name string
		run  func(ctx context.Context) (Result, error)
	}{
		{"AnalyzeBytes", func(ctx context.Context) (Result, error) {
			return AnalyzeBytes(ctx, data, "synth.pb.gz", contention.KindMutex)
		}},
		{"Analyze", func(ctx context.Context) (Result, error) {
			return Analyze(ctx, p, contention.KindMutex)
		}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			want, err := r.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			full := newChecksCtx(0)
			got, err := r.run(full)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the result with a live context differs from the one with context.Background")
			}
			// One look per batch of samples at least.
			if full.checks < samples/cancelEvery {
				t.Fatalf("%d looks at the context for %d samples, want at least %d", full.checks, samples, samples/cancelEvery)
			}

			// The last samples/cancelEvery looks are among the samples
			// (the fast decoder looks while it reads the tables too):
			// cancel half-way through the samples, and early on.
			for i, stopAt := range []int{full.checks - samples/cancelEvery/2, 2} {
				mid := newChecksCtx(stopAt)
				res, err := r.run(mid)
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled at look %d of %d: err = %v, want one wrapping context.Canceled", stopAt, full.checks, err)
				}
				if m := stoppedRx.FindStringSubmatch(err.Error()); i == 0 && (m == nil || m[1] == "0" || m[1] == strconv.Itoa(samples)) {
					t.Errorf("cancelled half-way through the samples: err = %v, want it to say it stopped after some of the %d samples", err, samples)
				}
				if res.Samples != 0 || len(res.Hotspots) != 0 {
					t.Errorf("a cancelled analysis returned a result: %d samples, %d hotspots", res.Samples, len(res.Hotspots))
				}
				if mid.checks != stopAt {
					t.Errorf("the analysis looked at its context %d times, cancelled at look %d: it went on after the cancel", mid.checks, stopAt)
				}
			}

			dead, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := r.run(dead); !errors.Is(err, context.Canceled) {
				t.Errorf("an already cancelled context: err = %v, want one wrapping context.Canceled", err)
			}
		})
	}
}

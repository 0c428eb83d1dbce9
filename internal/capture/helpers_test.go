package capture

import (
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// buildAgent prepares an injection for dir and builds the program with it,
// in dir (the program may be in another module). It returns the injection
// (closed at cleanup) and the binary.
func buildAgent(t testing.TB, opts PrepareOptions) (*Injection, string) {
	t.Helper()
	inj, err := Prepare(opts)
	if err != nil {
		t.Fatalf("Prepare(%s): %v", opts.Program, err)
	}
	t.Cleanup(func() { inj.Close() })
	bin := filepath.Join(t.TempDir(), "prog")
	args := append([]string{"build", "-o", bin}, inj.BuildFlags...)
	args = append(args, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = inj.PackageDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return inj, bin
}

// hotLine reports whether the gzipped profile charges any delay to a stack
// that passes through file:line.
func hotLine(t testing.TB, data []byte, file string, line int) (delay int64) {
	t.Helper()
	p, err := profile.ParseData(data)
	if err != nil {
		t.Fatalf("parse profile: %v", err)
	}
	di := len(p.SampleType) - 1 // delay/nanoseconds is last
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if ln.Function != nil && ln.Function.Filename == file && int(ln.Line) == line {
					delay += s.Value[di]
				}
			}
		}
	}
	return delay
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

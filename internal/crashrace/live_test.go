package crashrace

// End-to-end tests: build the fixtures with the real toolchain, run them,
// and parse what the runtime prints today. A change in the runtime's text
// fails here even when the recordings still pass.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

var fixtures struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// goTool returns the go command that runs these tests.
func goTool(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command on PATH or in GOROOT")
	}
	return p
}

// builtFixture returns the path of a fixture binary. All of them are built
// once per test binary: crashmap, crashread and crashiter plain, racymap and
// crashread with -race.
func builtFixture(t *testing.T, name string) string {
	t.Helper()
	fixtures.once.Do(func() {
		dir, err := os.MkdirTemp("", "crashrace-fixtures-")
		if err != nil {
			fixtures.err = err
			return
		}
		fixtures.dir = dir
		gocmd := goTool(t)
		for _, args := range [][]string{
			{"build", "-o", dir + string(filepath.Separator), "./testdata/crashmap", "./testdata/crashread", "./testdata/crashiter"},
			{"build", "-race", "-o", filepath.Join(dir, "racymap-race"), "./testdata/racymap"},
			{"build", "-race", "-o", filepath.Join(dir, "crashread-race"), "./testdata/crashread"},
		} {
			cmd := exec.Command(gocmd, args...)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				fixtures.err = errors.New("go " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out))
				return
			}
		}
	})
	if fixtures.err != nil {
		t.Fatalf("building fixtures: %v", fixtures.err)
	}
	return filepath.Join(fixtures.dir, name)
}

// run starts a fixture and returns its exit code; stderr goes to w.
func run(t *testing.T, w io.Writer, env []string, bin string, args ...string) int {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = w
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	t.Fatalf("%s exited 0 (stdout %q): the unsafe map access was not caught", filepath.Base(bin), stdout.String())
	return 0
}

func TestLiveCrashes(t *testing.T) {
	for _, tc := range []struct {
		prog, traceback string
	}{
		{"crashmap", ""},
		{"crashmap", "GOTRACEBACK=system"},
		{"crashmap", "GOTRACEBACK=all"},
		{"crashread", ""},
		{"crashiter", ""},
	} {
		t.Run(tc.prog+" "+tc.traceback, func(t *testing.T) {
			bin := builtFixture(t, tc.prog)
			var stderr bytes.Buffer
			var env []string
			if tc.traceback != "" {
				env = append(env, tc.traceback)
			}
			if code := run(t, &stderr, env, bin, "-d", "60s"); code != 2 {
				t.Errorf("exit code %d, want 2 (a fatal error)", code)
			}
			text := stderr.String()
			c, ok := ParseCrash(text)
			if !ok {
				t.Fatalf("no crash in:\n%s", text)
			}
			checkCrash(t, tc.prog, tc.prog, text, c)
		})
	}
}

func TestLiveRace(t *testing.T) {
	// The parser is the process's stderr: os/exec copies the pipe into it
	// in whatever chunks the reads return.
	var p RaceParser
	var all bytes.Buffer
	code := run(t, io.MultiWriter(&p, &all), nil, builtFixture(t, "racymap-race"))
	// racymap writes slowly enough that it rarely crashes, but on a loaded
	// machine the runtime's own check can still win after the race
	// reports (seen once in CI); the races must be read either way.
	if code != 66 && !(code == 2 && strings.Contains(all.String(), "fatal error: concurrent map")) {
		t.Errorf("exit code %d, want 66 (races found)\n%s", code, all.String())
	}
	p.Flush()
	checkRacymap(t, "live racymap", p.Races())
}

// TestLiveRaceThenCrash runs crashread under -race, as a session with the
// "race" option would: the race reports stream first, then the fatal error.
// One stderr feeds both the race parser and the crash text.
func TestLiveRaceThenCrash(t *testing.T) {
	// Whether a report gets out before the crash is up to the scheduler:
	// the goroutine that found the race prints it while the other one may
	// already trip the map check and end the process. It usually does
	// (19 runs in 20 here); a few runs make the test certain.
	var races []contention.Race
	var all bytes.Buffer
	for attempt := 0; attempt < 8 && len(races) == 0; attempt++ {
		var p RaceParser
		all.Reset()
		code := run(t, io.MultiWriter(&p, &all), []string{"GORACE=halt_on_error=0"}, builtFixture(t, "crashread-race"), "-d", "60s")
		if code != 2 {
			t.Errorf("exit code %d, want 2", code)
		}
		p.Flush()
		races = p.Races()
	}
	if len(races) == 0 {
		t.Fatalf("no races in 8 runs; the last printed:\n%s", all.String())
	}
	read := testutil.MarkerLine(t, "testdata/crashread/main.go", "crashread-read")
	for _, r := range races {
		if r.Truncated {
			t.Errorf("truncated race %+v", r)
		}
		lines := map[int]bool{r.Access.Line: true, r.Previous.Line: true}
		if !lines[read] {
			t.Errorf("race %s:%d / %s:%d misses the read at line %d", r.Access.Function, r.Access.Line, r.Previous.Function, r.Previous.Line, read)
		}
	}
	c, ok := ParseCrash(all.String())
	if !ok {
		t.Fatal("no crash after the races")
	}
	checkCrash(t, "crashread -race", "crashread", all.String(), c)
}

// runtimeMapReasons reads the map errors the installed runtime raises:
// every fatal("concurrent map ...") in GOROOT/src/internal/runtime/maps.
func runtimeMapReasons(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command(goTool(t), "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "src", "internal", "runtime", "maps")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runtime map sources in %s: %v", dir, err)
	}
	re := regexp.MustCompile(`fatal\("(concurrent map[^"]*)"\)`)
	found := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			for _, m := range re.FindAllStringSubmatch(sc.Text(), -1) {
				found[m[1]] = true
			}
		}
		fh.Close()
	}
	return found
}

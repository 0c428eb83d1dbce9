package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// Help goes to stdout with status 0; a wrong flag's usage to stderr with
// ExitUsage.
func TestAnalyzeHelpGoesToStdout(t *testing.T) {
	for _, h := range []string{"-h", "--help"} {
		var out, errb bytes.Buffer
		if code := Analyze([]string{h}, &out, &errb); code != ExitOK {
			t.Errorf("%s: exit %d, want %d", h, code, ExitOK)
		}
		if !strings.Contains(out.String(), "Usage: lockscope analyze") || errb.Len() != 0 {
			t.Errorf("%s: stdout %q…, stderr %q; want the usage on stdout alone", h, firstLine(out.String()), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Analyze([]string{"--no-such-flag"}, &out, &errb); code != ExitUsage {
		t.Errorf("a wrong flag: exit %d, want %d", code, ExitUsage)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "no-such-flag") {
		t.Errorf("a wrong flag: stdout %q, stderr %q; want the error on stderr alone", out.String(), errb.String())
	}
}

// A --pprof-url lockscope would refuse is a usage error, said once, before
// anything runs.
func TestAnalyzeRefusedURLIsAUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	code := Analyze([]string{"--pprof-url", "http://10.1.2.3:6060/debug/pprof/"}, &out, &errb)
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if n := strings.Count(errb.String(), "not loopback"); n != 1 {
		t.Errorf("the refusal is said %d times, want once:\n%s", n, errb.String())
	}
}

// A crash is the headline of the text report, before sections that say
// "none"; breakpoint labels name lines relative to the working directory,
// as the line column does.
func TestTextCrashFirstAndRelativeLabels(t *testing.T) {
	cwd := "/home/u/app"
	r := contention.Empty()
	r.Crash = &contention.Crash{Reason: "concurrent map writes", File: cwd + "/main.go", Line: 12, Function: "main.hit", Goroutine: 7}
	r.Breakpoints = []contention.Breakpoint{{File: cwd + "/main.go", Line: 12, Condition: "true",
		Label: "stops when another goroutine writes m (" + cwd + "/main.go:12, " + cwd + "/store/s.go:30)"}}
	var out bytes.Buffer
	if err := writeText(&out, r, cwd, 5); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	crash, none := strings.Index(text, "Crash: concurrent map writes at main.go:12"), strings.Index(text, "\n  none")
	if crash < 0 || none < 0 || crash > none {
		t.Errorf("the crash is not the headline:\n%s", text)
	}
	if strings.Contains(text, cwd+"/") || !strings.Contains(text, "(main.go:12, store/s.go:30)") {
		t.Errorf("absolute paths below the working directory in the text:\n%s", text)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

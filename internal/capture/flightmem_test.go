package capture

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// textDebugger answers Evaluate from a table of Delve's own texts (as
// Delve 1.27.2 wrote them in the stop-window e2e tests); the walk itself
// is proven against real Delve in internal/e2e.
type textDebugger map[string]string

func (d textDebugger) Evaluate(_ context.Context, expr string) (DebugValue, error) {
	if v, ok := d[expr]; ok {
		return DebugValue{Value: v}, nil
	}
	return DebugValue{}, errors.New("could not find symbol")
}

func (textDebugger) Children(context.Context, int, int, int) ([]DebugValue, error) {
	return nil, errors.New("no children")
}

func (textDebugger) ReadMemory(context.Context, string, int) ([]byte, error) {
	return nil, errors.New("no memory")
}

func TestFlightTexts(t *testing.T) {
	ctx := context.Background()
	d := textDebugger{
		"gen":    "12 = 0xc",
		"min":    "runtime/trace.eventTime(1234)",
		"n":      "3",
		"header": "[16]uint8 [103,111,32,49,46,50,54,32,116,114,97,99,101,0,0,0]",
		"bad":    "[2]uint8 [1,x]",
	}
	for expr, want := range map[string]int{"gen": 12, "min": 1234, "n": 3} {
		if got, err := evalInt(ctx, d, expr); err != nil || got != want {
			t.Errorf("evalInt(%s) = %d, %v; want %d", expr, got, err, want)
		}
	}
	if _, err := evalInt(ctx, d, "header"); err == nil {
		t.Error("evalInt of a byte array did not fail")
	}
	if h, err := evalBytes(ctx, d, "header"); err != nil || string(h) != "go 1.26 trace\x00\x00\x00" {
		t.Errorf("evalBytes(header) = %q, %v", h, err)
	}
	if _, err := evalBytes(ctx, d, "bad"); err == nil {
		t.Error("evalBytes of a bad array did not fail")
	}
	for s, want := range map[string]int{"[]uint8 len: 53, cap: 53, [1,1]": 53, "[]uint8 len: 0, cap: 0, nil": 0, "[]uint8 nil": -1} {
		got, err := sliceLen(s)
		if want < 0 {
			if err == nil {
				t.Errorf("sliceLen(%q) = %d, want an error", s, got)
			}
		} else if err != nil || got != want {
			t.Errorf("sliceLen(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for v, want := range map[string]bool{"go1.26.8": true, "go1.25.5": true, "go1.26rc1": true, "go1.24.3": false, "go1.27.0": false, "devel go1.27-abc": false, "": false} {
		if got := FlightLayoutKnown(v); got != want {
			t.Errorf("FlightLayoutKnown(%q) = %v, want %v", v, got, want)
		}
	}
	// An unchecked runtime fails soft, naming the version.
	if _, err := ReadFlightWindow(ctx, d, "main", "go1.27.1"); err == nil || !strings.Contains(err.Error(), "go1.27.1") {
		t.Errorf("ReadFlightWindow on go1.27.1: %v, want an error naming the version", err)
	}
	// A runtime without a recorder says so, and asks the debugger nothing
	// (d knows none of the agent's expressions: asking would fail otherwise).
	if _, err := ReadFlightWindow(ctx, d, "main", "go1.24.13"); err == nil || !strings.HasPrefix(err.Error(), "the flight recorder needs Go 1.25 or later, and this program builds with go1.24.13") {
		t.Errorf("ReadFlightWindow on go1.24.13: %v, want the flight recorder's need of Go 1.25", err)
	}
}

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Debugger reads a stopped program the way a DAP client does, through
// Delve's evaluate, variables and readMemory requests. The debug session
// provides it; nothing here resumes the program or calls a function in it.
type Debugger interface {
	// Evaluate evaluates a Go expression in the stopped program.
	Evaluate(ctx context.Context, expr string) (DebugValue, error)
	// Children lists count indexed children of a value from start.
	Children(ctx context.Context, ref, start, count int) ([]DebugValue, error)
	// ReadMemory reads count bytes at a memory reference.
	ReadMemory(ctx context.Context, memRef string, count int) ([]byte, error)
}

// DebugValue is one value as the debugger shows it.
type DebugValue struct {
	Name  string
	Value string
	// Ref lists the value's children (0: none); MemoryRef reads a slice's
	// or a string's bytes ("" for other values).
	Ref       int
	MemoryRef string
}

// FlightWindow is the flight recorder's window read from a stopped program.
type FlightWindow struct {
	// Trace is a valid execution trace: the trace header and the batches
	// of every complete generation the recorder held, oldest first.
	Trace []byte
	// Generations is how many generations Trace holds.
	Generations int
	// Span is from the start of the oldest generation held to the start
	// of the generation that was still being recorded at the stop, which
	// is not in Trace (its string and stack tables are written only when
	// it ends). 0 when unknown.
	Span time.Duration
}

// ErrFlightOff means the program's flight recorder was not running at the
// stop: lockscope did not start it, it stepped aside for a deadlock, or the
// program exited.
var ErrFlightOff = errors.New("the flight recorder was not running")

// flightLayouts are the Go releases whose runtime/trace.FlightRecorder was
// read, field by field, for ReadFlightWindow: its header [16]byte, ring
// []rawGeneration (complete generations, oldest first, each replaced whole
// and never changed once in the ring), active rawGeneration (the one being
// recorded) and rawGeneration{gen, minTime, batches}. Go 1.25 keeps each
// batch as a struct with its bytes in data; Go 1.26 keeps the bytes alone.
var flightLayouts = map[int]struct{ batchField string }{
	25: {batchField: ".data"},
	26: {batchField: ""},
}

// FlightLayoutKnown reports whether ReadFlightWindow knows the flight
// recorder's layout in the runtime of goVersion (e.g. "go1.26.8").
func FlightLayoutKnown(goVersion string) bool {
	_, ok := flightLayouts[goMinor(goVersion)]
	return ok
}

// goMinor returns 26 for "go1.26.8", "go1.26rc1" or "go1.26"; 0 when the
// version is not a Go 1 release.
func goMinor(v string) int {
	v, ok := strings.CutPrefix(v, "go1.")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		v = v[:end]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// ReadFlightWindow reads the flight recorder's window out of a stopped
// program built with the agent in package pkgName (the package's name, as
// Delve qualifies globals with it) by goVersion's toolchain. It walks the
// recorder's ring of generations through d, reads each batch's bytes and
// puts the header in front, which is what FlightRecorder.WriteTo would
// write, but without running the program: every goroutine stays where the
// stop froze it. The generation being recorded at the stop is left out
// (see FlightWindow.Span).
func ReadFlightWindow(ctx context.Context, d Debugger, pkgName, goVersion string) (*FlightWindow, error) {
	minor := goMinor(goVersion)
	if minor > 0 && minor < 25 {
		// The agent builds without a recorder there (agentnoflight.go.txt):
		// say so, rather than that lockscope does not know its layout.
		return nil, fmt.Errorf("the flight recorder needs Go 1.25 or later, and this program builds with %s; the profiles and trace windows work without it", goVersion)
	}
	layout, ok := flightLayouts[minor]
	if !ok {
		return nil, fmt.Errorf("the flight recorder's memory layout in %s was not checked (lockscope reads it in Go 1.25 and 1.26)", goVersion)
	}
	// The agent holds the recorder behind an interface (its file for Go
	// 1.24 has no FlightRecorder type to name), in a struct of its own;
	// Delve selects a field of the value inside an interface directly.
	iface := pkgName + ".lockscopeAgentState.flight"
	root := iface + ".fr"
	if v, err := d.Evaluate(ctx, iface+" == nil"); err != nil {
		return nil, fmt.Errorf("finding the agent's flight recorder: %w", err)
	} else if v.Value == "true" {
		return nil, ErrFlightOff
	}
	if v, err := evalString(ctx, d, root+".enabled"); err != nil {
		return nil, err
	} else if v != "true" {
		return nil, ErrFlightOff
	}
	header, err := evalBytes(ctx, d, root+".header")
	if err != nil {
		return nil, err
	}
	if len(header) != 16 || !bytes.HasPrefix(header, []byte("go 1.")) {
		return nil, fmt.Errorf("the flight recorder holds no trace header yet (%q)", header)
	}
	// The byte view's full type name, which a cast needs: Delve writes a
	// struct's value after its type's name.
	vv, err := evalString(ctx, d, pkgName+".lockscopeAgentState.view")
	if err != nil {
		return nil, err
	}
	view, _, ok := strings.Cut(vv, " {")
	if !ok || !strings.HasSuffix(view, ".lockscopeAgentByteView") {
		return nil, fmt.Errorf("the agent's byte view is %q, not a lockscopeAgentByteView", vv)
	}
	n, err := evalInt(ctx, d, "len("+root+".ring)")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("the flight recorder holds no complete generation yet (the runtime ends one about every second)")
	}
	w := &FlightWindow{Trace: append([]byte(nil), header...)}
	var last uint64
	for i := range n {
		gen := fmt.Sprintf("%s.ring[%d]", root, i)
		g, err := evalInt(ctx, d, gen+".gen")
		if err != nil {
			return nil, err
		}
		if i > 0 && uint64(g) <= last {
			return nil, fmt.Errorf("the flight recorder's ring is out of order (generation %d after %d)", g, last)
		}
		last = uint64(g)
		if err := readGeneration(ctx, d, gen+".batches", layout.batchField, view, w); err != nil {
			return nil, fmt.Errorf("generation %d: %w", g, err)
		}
		w.Generations++
	}
	// The span, from the recorder's own clock (nanoseconds): when the
	// generation being recorded has no batch yet, it is unknown.
	if start, err := evalInt(ctx, d, root+".ring[0].minTime"); err == nil {
		if end, err := evalInt(ctx, d, root+".active.minTime"); err == nil && end > start && start > 0 {
			w.Span = time.Duration(end - start)
		}
	}
	return w, nil
}

// readGeneration appends the bytes of every batch of one generation. A
// debugger gives a memory reference to a slice only where it is a struct's
// field, and a batch is a slice element: each batch's slice header is
// therefore read through the agent's byte view (lockscopeAgentByteView, a
// struct of one []byte), cast at the header's address.
func readGeneration(ctx context.Context, d Debugger, expr, field, view string, w *FlightWindow) error {
	n, err := evalInt(ctx, d, "len("+expr+")")
	if err != nil {
		return err
	}
	for j := range n {
		v, err := d.Evaluate(ctx, fmt.Sprintf("*(*%q)(uintptr(&%s[%d]%s))", view, expr, j, field))
		if err != nil {
			return err
		}
		b, err := childNamed(ctx, d, v, "b")
		if err != nil {
			return err
		}
		size, err := sliceLen(b.Value)
		if err != nil {
			return err
		}
		if b.MemoryRef == "" {
			return fmt.Errorf("the debugger gives no memory reference for a batch (%s)", b.Value)
		}
		data, err := d.ReadMemory(ctx, b.MemoryRef, size)
		if err != nil {
			return err
		}
		if len(data) != size {
			return fmt.Errorf("read %d of a batch's %d bytes", len(data), size)
		}
		w.Trace = append(w.Trace, data...)
	}
	return nil
}

func childNamed(ctx context.Context, d Debugger, v DebugValue, name string) (DebugValue, error) {
	if v.Ref == 0 {
		return DebugValue{}, fmt.Errorf("a batch has no fields (%s)", v.Value)
	}
	kids, err := d.Children(ctx, v.Ref, 0, 0)
	if err != nil {
		return DebugValue{}, err
	}
	for _, k := range kids {
		if k.Name == name {
			return k, nil
		}
	}
	return DebugValue{}, fmt.Errorf("a batch has no field %s", name)
}

// sliceLen reads the length of a slice from the debugger's text for it,
// "[]uint8 len: 65536, cap: 65536, [...]".
func sliceLen(s string) (int, error) {
	_, rest, ok := strings.Cut(s, "len: ")
	if ok {
		if end := strings.IndexByte(rest, ','); end >= 0 {
			if n, err := strconv.Atoi(rest[:end]); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("no slice length in %q", s)
}

func evalString(ctx context.Context, d Debugger, expr string) (string, error) {
	v, err := d.Evaluate(ctx, expr)
	if err != nil {
		return "", err
	}
	return v.Value, nil
}

func evalInt(ctx context.Context, d Debugger, expr string) (int, error) {
	s, err := evalString(ctx, d, expr)
	if err != nil {
		return 0, err
	}
	// Delve adds the hex of an unsigned value ("42 = 0x2a"), and a named
	// integer type may come wrapped: "runtime/trace.eventTime(42)".
	s, _, _ = strings.Cut(s, " = ")
	if open := strings.LastIndexByte(s, '('); open >= 0 && strings.HasSuffix(s, ")") {
		s = s[open+1 : len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is %q, not a number", expr, s)
	}
	return int(n), nil
}

// evalBytes reads a byte array the debugger prints as "[16]uint8 [103,111,...]".
func evalBytes(ctx context.Context, d Debugger, expr string) ([]byte, error) {
	s, err := evalString(ctx, d, expr)
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(s, '[')
	if i < 0 || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("%s is %q, not a byte array", expr, s)
	}
	var out []byte
	for _, f := range strings.Split(s[i+1:len(s)-1], ",") {
		b, err := strconv.ParseUint(strings.TrimSpace(f), 10, 8)
		if err != nil {
			return nil, fmt.Errorf("%s is %q, not a byte array", expr, s)
		}
		out = append(out, byte(b))
	}
	return out, nil
}

package dapx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// LaunchField is one field of the lockscope launch attribute with the JSON
// type and range it accepts. The table is the one place that says what is
// valid; package.json's schema must declare the same (a test checks), so
// that VS Code flags in the editor what the adapter refuses.
type LaunchField struct {
	Name string
	Type string   // "number", "integer", "string", "boolean" or "array" (of strings)
	Enum []string // allowed strings, when not empty
	// Min and Max bound a number; NaN leaves that side open.
	Min, Max float64
}

// MaxTraceSeconds bounds traceSeconds: the agent caps a trace window there
// (capture.MaxTraceSeconds), and a longer trace grows without bound.
const MaxTraceSeconds = 60

// MaxFlightSeconds bounds flightRecorder, the flight recorder's window.
const MaxFlightSeconds = 60

var open = math.NaN()

// LaunchFields lists every field of [LaunchConfig].
var LaunchFields = []LaunchField{
	{Name: "capture", Type: "string", Enum: []string{"auto", "off"}, Min: open, Max: open},
	// Below half a second the debuggee spends most of a CPU serving
	// profiles, and the client drowns in report events.
	{Name: "refreshSeconds", Type: "number", Min: 0.5, Max: 3600},
	{Name: "traceSeconds", Type: "number", Min: 0, Max: MaxTraceSeconds},
	// The recorder keeps its window in the program's memory (capped at 64
	// MiB): a minute is already more than a stop needs.
	{Name: "flightRecorder", Type: "number", Min: 0, Max: MaxFlightSeconds},
	{Name: "stuckAfterSeconds", Type: "number", Min: 0, Max: 3600},
	{Name: "mutexProfileFraction", Type: "integer", Min: 0, Max: math.MaxInt32},
	{Name: "blockProfileRate", Type: "integer", Min: 0, Max: math.MaxInt32},
	{Name: "pprofURL", Type: "string", Min: open, Max: open},
	{Name: "allowHosts", Type: "array", Min: open, Max: open},
	{Name: "profiles", Type: "array", Min: open, Max: open},
	{Name: "traces", Type: "array", Min: open, Max: open},
	{Name: "race", Type: "boolean", Min: open, Max: open},
	{Name: "showAgentGoroutines", Type: "boolean", Min: open, Max: open},
}

// Allowed says in words what a field accepts, for error messages.
func (f LaunchField) Allowed() string {
	switch {
	case len(f.Enum) > 0:
		return "one of " + strings.Join(quoteAll(f.Enum), ", ")
	case f.Type == "array":
		return "an array of strings"
	case f.Type == "number" || f.Type == "integer":
		return fmt.Sprintf("%s in [%s, %s]", article(f.Type), num(f.Min), num(f.Max))
	default:
		return article(f.Type)
	}
}

func article(typ string) string {
	if typ == "integer" {
		return "an integer"
	}
	return "a " + typ
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "∞"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

// ParseLaunchConfig checks the lockscope attribute field by field (type and
// range) and decodes it. Its error names the field and what it accepts.
func ParseLaunchConfig(raw json.RawMessage) (LaunchConfig, error) {
	var cfg LaunchConfig
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return cfg, fmt.Errorf(`"lockscope" must be an object`)
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names) // one error, the same on every run
	for _, name := range names {
		i := slices.IndexFunc(LaunchFields, func(f LaunchField) bool { return f.Name == name })
		if i < 0 {
			return cfg, fmt.Errorf("%q is not a lockscope attribute; known: %s", "lockscope."+Shorten(name), knownNames())
		}
		if err := LaunchFields[i].check(fields[name]); err != nil {
			return cfg, err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf(`invalid "lockscope" attribute: %w`, err)
	}
	return cfg, nil
}

// check checks one field's raw JSON value.
func (f LaunchField) check(raw json.RawMessage) error {
	bad := func(got string) error {
		return fmt.Errorf("%q is %s; want %s", "lockscope."+f.Name, got, f.Allowed())
	}
	v := bytes.TrimSpace(raw)
	if bytes.Equal(v, []byte("null")) {
		return nil // as if absent
	}
	switch f.Type {
	case "number", "integer":
		if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
			return bad("not a number")
		}
		x, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(x, 0) {
			return bad(Shorten(string(v)))
		}
		if f.Type == "integer" && x != math.Trunc(x) {
			return bad(Shorten(string(v)))
		}
		if (!math.IsNaN(f.Min) && x < f.Min) || (!math.IsNaN(f.Max) && x > f.Max) {
			return bad(Shorten(string(v)))
		}
	case "string":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return bad("not a string")
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			return bad(strconv.Quote(Shorten(s)))
		}
	case "boolean":
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return bad("not a boolean")
		}
	case "array":
		var a []string
		if err := json.Unmarshal(v, &a); err != nil {
			return bad("not an array of strings")
		}
	}
	return nil
}

func knownNames() string {
	names := make([]string, len(LaunchFields))
	for i, f := range LaunchFields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// ShortLen is how much of a value (a path, a number as sent) an error
// message quotes: a client may send megabytes.
const ShortLen = 80

// Shorten cuts s to at most ShortLen bytes (on a rune boundary) and marks
// the cut, so that an error never echoes a huge value back.
func Shorten(s string) string { return ShortenTo(s, ShortLen) }

// ShortenTo is Shorten to n bytes.
func ShortenTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + fmt.Sprintf("… (%d bytes)", len(s))
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Package dapx defines lockscope's additions to the Debug Adapter Protocol:
// the lockscope/* requests, their responses, the lockscope/report event, the
// lockscope launch attribute and the stable error ids.
//
// The request, response and event types are the messages whole, go-dap's
// head included. The session decodes the arguments types and answers with
// bodies of these shapes; lockscope's test client (internal/daptest) sends
// the requests and decodes every response and event into these types, so a
// test fails when the session strays from them. Command and event names and
// JSON field names are a public contract: add, never rename.
package dapx

import (
	"encoding/json"

	"github.com/google/go-dap"
	"github.com/lockscope/lockscope/internal/contention"
)

// Command and event names.
const (
	Prefix             = "lockscope/"
	CommandCapture     = "lockscope/capture"
	CommandLoad        = "lockscope/load"
	CommandReport      = "lockscope/report"
	CommandBreakpoints = "lockscope/breakpoints"
	CommandClear       = "lockscope/clear"
	CommandSave        = "lockscope/save"    // {path}: save the capture (report, raw profiles, trace summaries) to a zip
	CommandCompare     = "lockscope/compare" // {path, failOn?}: the report compared with a saved capture
	EventReport        = "lockscope/report"
)

// Error ids. They are stable: clients may match on them.
const (
	ErrUnknownCommand   = 7000 // a lockscope/ command that does not exist
	ErrBadArguments     = 7001 // arguments that do not decode or make no sense
	ErrMalformedMessage = 7002 // a message that is not valid DAP
	ErrInternal         = 7003 // a panic inside a handler; the session goes on
	ErrTooLarge         = 7004 // a request above transport.MaxRequest (16 MiB), refused unread
	ErrCaptureFailed    = 7010
	ErrProgramStopped   = 7011 // capture asked while the debuggee is stopped
	ErrNoProgram        = 7012 // capture asked before launch or after exit
	ErrLoadFailed       = 7013
	ErrCancelled        = 7014
	ErrSaveFailed       = 7015 // lockscope/save could not write the capture
	ErrCompareFailed    = 7016 // lockscope/compare could not read or compare the capture
	ErrBackend          = 7020 // Delve could not be started or reached
	ErrLaunchRewrite    = 7021 // the lockscope launch attribute is invalid
)

// LaunchConfig is the "lockscope" attribute of a launch or attach request.
// The session strips it before the request reaches Delve.
type LaunchConfig struct {
	Capture        string  `json:"capture,omitempty"` // "auto" (default) | "off"
	RefreshSeconds float64 `json:"refreshSeconds,omitempty"`
	TraceSeconds   float64 `json:"traceSeconds,omitempty"`
	// FlightRecorder is the window of the runtime's flight recorder in the
	// program, in seconds (Go 1.25 and later): every stop then shows the
	// chains of its last seconds. 0 turns it off; absent picks the default
	// (capture.DefaultFlight).
	FlightRecorder *float64 `json:"flightRecorder,omitempty"`
	// StuckAfterSeconds is how long a lock wait must last to be reported
	// stuck (0: 2 s; see internal/stuck).
	StuckAfterSeconds    float64  `json:"stuckAfterSeconds,omitempty"`
	MutexProfileFraction int      `json:"mutexProfileFraction,omitempty"`
	BlockProfileRate     int      `json:"blockProfileRate,omitempty"`
	PprofURL             string   `json:"pprofURL,omitempty"`
	AllowHosts           []string `json:"allowHosts,omitempty"`
	Profiles             []string `json:"profiles,omitempty"`
	Traces               []string `json:"traces,omitempty"`
	Race                 bool     `json:"race,omitempty"`
	// ShowAgentGoroutines keeps the capture agent's own goroutines in the
	// threads the client sees; by default they are left out.
	ShowAgentGoroutines bool `json:"showAgentGoroutines,omitempty"`
}

// CaptureArguments are the arguments of lockscope/capture.
type CaptureArguments struct {
	Kinds   []string `json:"kinds,omitempty"` // "mutex", "block", "trace"; default mutex and block
	Seconds float64  `json:"seconds,omitempty"`
}

// LoadArguments are the arguments of lockscope/load.
type LoadArguments struct {
	Path string `json:"path"`
	Kind string `json:"kind,omitempty"` // "mutex" | "block" | "trace"; guessed when empty
}

// BreakpointsArguments are the arguments of lockscope/breakpoints.
type BreakpointsArguments struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// CaptureRequest is lockscope/capture.
type CaptureRequest struct {
	dap.Request
	Arguments CaptureArguments `json:"arguments"`
}

// LoadRequest is lockscope/load.
type LoadRequest struct {
	dap.Request
	Arguments LoadArguments `json:"arguments"`
}

// ReportRequest is lockscope/report.
type ReportRequest struct {
	dap.Request
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// BreakpointsRequest is lockscope/breakpoints.
type BreakpointsRequest struct {
	dap.Request
	Arguments BreakpointsArguments `json:"arguments"`
}

// ClearRequest is lockscope/clear.
type ClearRequest struct {
	dap.Request
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// ReportResponse answers lockscope/report, lockscope/capture,
// lockscope/load and lockscope/clear: each returns the report as it stands.
type ReportResponse struct {
	dap.Response
	Body *contention.Report `json:"body,omitempty"`
}

// BreakpointsResponseBody is the body of the lockscope/breakpoints response.
type BreakpointsResponseBody struct {
	Breakpoints []contention.Breakpoint `json:"breakpoints"`
	// Reason says why there are none, when there are none.
	Reason string `json:"reason,omitempty"`
}

// BreakpointsResponse answers lockscope/breakpoints.
type BreakpointsResponse struct {
	dap.Response
	Body BreakpointsResponseBody `json:"body"`
}

// ReportEvent is the lockscope/report event.
type ReportEvent struct {
	dap.Event
	Body *contention.Report `json:"body"`
}

// SaveArguments are the arguments of lockscope/save.
type SaveArguments struct {
	Path string `json:"path"` // the capture file to write (a zip), replaced whole
}

// SaveResponseBody is the body of the lockscope/save response.
type SaveResponseBody struct {
	Path     string `json:"path"`
	Profiles int    `json:"profiles"` // raw profiles in the capture
	Traces   int    `json:"traces"`   // trace summaries in the capture
}

// CompareArguments are the arguments of lockscope/compare.
type CompareArguments struct {
	Path string `json:"path"` // a capture saved by lockscope/save or analyze --save
	// FailOn is a gate rule as analyze --fail-on takes it ("wait+20%");
	// the verdict is in the report's comparison.gate.
	FailOn string `json:"failOn,omitempty"`
}

// SaveRequest is lockscope/save.
type SaveRequest struct {
	dap.Request
	Arguments SaveArguments `json:"arguments"`
}

// SaveResponse answers lockscope/save.
type SaveResponse struct {
	dap.Response
	Body SaveResponseBody `json:"body"`
}

// CompareRequest is lockscope/compare. It is answered with a
// ReportResponse: the report as it stands, compared with the capture
// (each entry's base and change, and the report's comparison). The
// lockscope/report event is not compared.
type CompareRequest struct {
	dap.Request
	Arguments CompareArguments `json:"arguments"`
}

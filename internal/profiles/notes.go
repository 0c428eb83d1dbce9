// The notes of a Result: sentences for a person, each with a code that
// callers choose by, since the wording may change.

package profiles

// NoteCode says what a [Note] is about. Codes never change meaning; the
// text may be reworded at any time, so callers that keep, drop or rewrite
// notes choose them by code, never by text.
type NoteCode string

const (
	// NoteUnsymbolized: some samples have no function names and were left
	// out.
	NoteUnsymbolized NoteCode = "unsymbolized"
	// NoteKindUnknown: the profile is empty, so whether it is a mutex or a
	// block profile could not be told.
	NoteKindUnknown NoteCode = "kind-unknown"
	// NoteMixedKinds: the profile holds both holder-side (Unlock) and
	// waiter-side (Lock, Wait) stacks, as a merged profile would.
	NoteMixedKinds NoteCode = "mixed-kinds"
	// NoteNoSamples: the profile has no samples. Its Hint asks whether the
	// profiling rate is set.
	NoteNoSamples NoteCode = "no-samples"
	// NoteNegativeValues: samples with negative values were skipped.
	NoteNegativeValues NoteCode = "negative-values"
	// NoteTrimpath: the source paths are not absolute (a -trimpath build).
	NoteTrimpath NoteCode = "trimpath"
	// NoteRootWait: one entry of [Result.Excluded], the root goroutine
	// waiting for its workers.
	NoteRootWait NoteCode = "root-wait"
	// NoteRuntimeInternal: the total of [Result.RuntimeInternal], the
	// contention on the runtime's own locks.
	NoteRuntimeInternal NoteCode = "runtime-internal"
)

// Note is one sentence about a profile for a person, with its code.
type Note struct {
	Code NoteCode `json:"code"`
	Text string   `json:"text"`
	// Hint is advice on the program's profiling rates
	// (runtime.SetMutexProfileFraction, runtime.SetBlockProfileRate), or
	// "". A caller that set the rates itself (lockscope's agent, go test's
	// profile flags) shows Text alone; others show String.
	Hint string `json:"hint,omitempty"`
}

// String is the note as a person reads it: the text, then the hint in
// parentheses.
func (n Note) String() string {
	if n.Hint == "" {
		return n.Text
	}
	return n.Text + " (" + n.Hint + ")"
}

// Kind detection: telling a mutex profile from a block profile by what
// the leaf frames release or wait on, and checking the kind asked for.

package profiles

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// ErrWrongKind is wrapped by errors about a profile of another kind than
// asked for (a CPU profile given as a mutex profile, a block profile given
// as a mutex profile).
var ErrWrongKind = errors.New("wrong kind of profile")

// DetectKind tells a mutex profile from a block profile. Both carry the
// sample types contentions/count and delay/nanoseconds; they differ in the
// leaf frames: the mutex profile charges Unlock (and runtime.unlock), the
// block profile charges Lock, RLock, Wait, channel operations and select.
//
// A cancelled ctx stops it between batches of samples, with an error that
// wraps ctx.Err().
func DetectKind(ctx context.Context, p *profile.Profile) (string, error) {
	a, err := fromProfile(ctx, p, usercode.Rules{})
	if err != nil {
		return "", err
	}
	k := a.detected()
	if k == "" {
		return "", fmt.Errorf("cannot tell a mutex profile from a block profile: none of its %d samples ends in a lock, channel or select frame", len(p.Sample))
	}
	return k, nil
}

// checkKindArg rejects a kind other than mutex, block or "" (detect).
func checkKindArg(kind string) error {
	if kind != "" && kind != contention.KindMutex && kind != contention.KindBlock {
		return fmt.Errorf("unknown profile kind %q: want %q or %q", kind, contention.KindMutex, contention.KindBlock)
	}
	return nil
}

// finish settles the kind and builds the result.
func (a *analysis) finish(kind string) (Result, error) {
	if a.unsymbolized > 0 && a.unsymbolized == a.samples {
		return Result{}, fmt.Errorf("%w: none of its %d samples has function names (a legacy text profile written with debug=1, or an unsymbolized one); write it with debug=0, or symbolize it with go tool pprof -proto BINARY PROFILE", ErrNoSymbols, a.samples)
	}
	if a.unsymbolized > 0 {
		a.notes = append(a.notes, Note{Code: NoteUnsymbolized, Text: fmt.Sprintf("%d of %d samples have no function names and were left out", a.unsymbolized, a.samples)})
	}
	got := a.detected()
	switch {
	case kind == "" && got == "":
		if a.samples > 0 {
			return Result{}, fmt.Errorf("cannot tell a mutex profile from a block profile: none of its %d samples ends in a lock, channel or select frame; say which it is", a.samples)
		}
		kind = contention.KindMutex // nothing to charge; the kind does not matter
		a.notes = append(a.notes, Note{Code: NoteKindUnknown, Text: "the profile is empty, so its kind (mutex or block) could not be told"})
	case kind == "":
		kind = got
	case got != "" && got != kind && a.vote(kind) == 0:
		return Result{}, fmt.Errorf("%w: asked for a %s profile, but this is a %s profile (%s)", ErrWrongKind, kind, got, kindEvidence(got))
	}
	if a.mutexVotes > 0 && a.blockVotes > 0 {
		a.notes = append(a.notes, Note{Code: NoteMixedKinds, Text: fmt.Sprintf("the profile mixes holder-side (Unlock) and waiter-side (Lock/Wait) stacks, as a merged profile would; it was read as a %s profile", kind)})
	}
	return a.result(kind), nil
}

// kindEvidence says, for an error, why the stacks read as kind k.
func kindEvidence(k string) string {
	if k == contention.KindMutex {
		return "its stacks end in Unlock: the holder side"
	}
	return "its stacks end in Lock, Wait, channel or select: the waiter side"
}

// vote is the weight of the samples that vote for kind.
func (a *analysis) vote(kind string) int64 {
	if kind == contention.KindMutex {
		return a.mutexVotes
	}
	return a.blockVotes
}

// detected is the kind the stacks vote for, or "" when they do not vote.
func (a *analysis) detected() string {
	m, b := a.mutexVotes, a.blockVotes
	switch {
	case m == 0 && b == 0:
		return ""
	case m >= b:
		return contention.KindMutex
	default:
		return contention.KindBlock
	}
}

package capture

import (
	"fmt"
	"go/version"
	"strings"
)

// MinGoVersion is the oldest Go release the agent builds with: the build
// constraint of agent.go.txt (TestMinGoVersionIsTheAgentsConstraint keeps
// the two together). A toolchain older than this leaves the agent out of
// the build, so nothing would ever answer on its pipe, and its linker
// (before Go 1.23) rejects -checklinkname=0, so the program would not
// build at all: [Prepare] refuses such a toolchain before either happens.
const MinGoVersion = "go1.24"

// OldGoError is [Prepare]'s error for a toolchain older than
// [MinGoVersion]: capture is impossible, and nothing else is wrong, so
// callers tell it apart (errors.As) to say so and go on without the agent.
type OldGoError struct {
	GoVersion string // as the go command names it, e.g. "go1.19.8"
}

func (e *OldGoError) Error() string {
	return fmt.Sprintf("capture needs Go %s or later; this program builds with %s", strings.TrimPrefix(MinGoVersion, "go"), e.GoVersion)
}

// CheckGoVersion returns an *OldGoError when goVersion (`go env
// GOVERSION`, or runtime.Version) is older than [MinGoVersion], and nil
// otherwise.
//
// A version this cannot read counts as new enough: "" (the go command
// could not tell), a development build ("devel go1.27-abc…", built from a
// tip newer than every release, whose build tags include go1.24), or a
// vendor's spelling. Refusing those would turn capture off on toolchains
// that build the agent; letting one through that is really too old costs
// what it cost before this check, a build error that names the flag.
func CheckGoVersion(goVersion string) error {
	if !GoVersionBefore(goVersion, MinGoVersion) {
		return nil
	}
	return &OldGoError{GoVersion: goVersion}
}

// GoVersionBefore reports whether goVersion (as `go env GOVERSION` or
// runtime.Version names it) is a release older than min ("go1.24"). A
// version it cannot read is not: see [CheckGoVersion] for why.
func GoVersionBefore(goVersion, min string) bool {
	// A GOEXPERIMENT suffix (" X:name") is not part of the version, and
	// go/version reads "go1.26.8 X:…" as invalid.
	v, _, _ := strings.Cut(strings.TrimSpace(goVersion), " ")
	return version.IsValid(v) && version.Compare(v, min) < 0
}

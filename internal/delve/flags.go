package delve

import (
	"fmt"
	"strings"
)

// The launch attribute dlvFlags, as vscode-go has it: extra flags for the
// `dlv dap` it starts. lockscope passes them to an external dlv (dlvPath,
// or `lockscope dap --dlv`) after its own `--listen`. The embedded Delve
// takes no command line: what its flags choose is fixed (it checks no Go
// version, as with --check-go-version=false), so the others are reported
// as ignored rather than silently dropped.

// owned are the flags lockscope sets itself: the address it connects to.
var owned = map[string]bool{"--listen": true, "-l": true, "--client-addr": true}

// flagName is a flag's name without its =value.
func flagName(f string) string {
	name, _, _ := strings.Cut(f, "=")
	return name
}

// CheckExternalFlags refuses dlvFlags that would take the connection away
// from lockscope.
func CheckExternalFlags(flags []string) error {
	for _, f := range flags {
		if owned[flagName(f)] {
			return fmt.Errorf("dlvFlags may not set %s: lockscope starts dlv on an address of its own and connects to it", flagName(f))
		}
	}
	return nil
}

// EmbeddedIgnores lists the dlvFlags the embedded Delve does not act on:
// all but --check-go-version=false (dlv's boolean flags take their value
// after =), which is what it does anyway. A flag given as two items
// (--log-output dap) is listed with its value.
func EmbeddedIgnores(flags []string) []string {
	var ignored []string
	for i := 0; i < len(flags); i++ {
		f := flags[i]
		if f == "--check-go-version=false" || f == "--check-go-version=0" {
			continue
		}
		if !strings.Contains(f, "=") && i+1 < len(flags) && !strings.HasPrefix(flags[i+1], "-") {
			f += " " + flags[i+1]
			i++
		}
		ignored = append(ignored, f)
	}
	return ignored
}

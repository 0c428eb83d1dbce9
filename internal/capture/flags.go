package capture

import (
	"encoding/json"
	"fmt"
	"strings"
)

// agentLdflag lets the agent link to the runtime's exit hooks; without it
// the Go 1.23+ linker rejects the go:linkname with "invalid reference".
const agentLdflag = "-checklinkname=0"

// MergeBuildFlags returns user with the agent's needs merged in: the last
// -ldflags gets -checklinkname=0 appended (or one is added), and every
// -overlay is taken out and replaced by -overlay=overlayPath (when not
// empty). It also returns the user's own -overlay file, whose entries the
// caller must copy into its overlay, since go build takes one only. A
// leading "-C dir" stays first, as the go command requires.
func MergeBuildFlags(user []string, overlayPath string) (merged []string, userOverlay string, err error) {
	var out []string
	lastLd := -1
	for i := 0; i < len(user); i++ {
		a := user[i]
		name, val, hasVal := flagNameValue(a)
		switch name {
		case "ldflags", "overlay":
			if !hasVal {
				if i+1 >= len(user) {
					return nil, "", fmt.Errorf("capture: build flag %s needs a value", a)
				}
				i++
				val = user[i]
			}
			if name == "overlay" {
				userOverlay = val
				continue
			}
			out = append(out, "-ldflags="+val)
			lastLd = len(out) - 1
		default:
			out = append(out, a)
		}
	}
	if lastLd >= 0 {
		v := strings.TrimPrefix(out[lastLd], "-ldflags=")
		if !strings.Contains(" "+v+" ", " "+agentLdflag+" ") {
			v = strings.TrimSpace(v + " " + agentLdflag)
		}
		out[lastLd] = "-ldflags=" + v
	} else {
		out = append(out, "-ldflags="+agentLdflag)
	}
	if overlayPath != "" {
		out = append(out, "-overlay="+overlayPath)
	}
	return out, userOverlay, nil
}

// flagNameValue splits "-name=value" or "--name=value"; hasVal is false for
// "-name" alone. A non-flag argument has an empty name.
func flagNameValue(a string) (name, val string, hasVal bool) {
	if !strings.HasPrefix(a, "-") {
		return "", "", false
	}
	s := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, val, hasVal = strings.Cut(s, "=")
	return name, val, hasVal
}

// DelveBuildFlags turns the "buildFlags" of a Delve launch request into a
// list of flags. Delve 1.27 takes a string (split on spaces, with single
// quotes grouping) or an array of strings; raw may be either, decoded (a
// string, []string or []any) or as JSON (json.RawMessage). The session
// passes the result as PrepareOptions.UserBuildFlags and sends
// Injection.BuildFlags back to Delve as an array, which Delve accepts and
// passes to go build unchanged.
func DelveBuildFlags(raw any) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case string:
		return splitQuoted(v, '\''), nil
	case []string:
		return append([]string(nil), v...), nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("capture: buildFlags[%d] is %T, want a string", i, e)
			}
			out = append(out, s)
		}
		return out, nil
	case json.RawMessage:
		if len(v) == 0 || string(v) == "null" {
			return nil, nil
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, fmt.Errorf("capture: buildFlags: %w", err)
		}
		return DelveBuildFlags(x)
	default:
		return nil, fmt.Errorf("capture: buildFlags is %T, want a string or an array of strings", raw)
	}
}

// splitQuoted splits like Delve's config.SplitQuotedFields: on white space,
// except inside quote characters; a backslash inside quotes escapes the
// next character.
func splitQuoted(in string, quote rune) []string {
	var out []string
	var cur strings.Builder
	inField, inQuote, escaped := false, false, false
	for _, ch := range in {
		switch {
		case escaped:
			cur.WriteRune(ch)
			escaped = false
		case inQuote && ch == '\\':
			escaped = true
		case inQuote && ch == quote:
			inQuote = false
		case inQuote:
			cur.WriteRune(ch)
		case ch == quote:
			inQuote, inField = true, true
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if inField {
				out = append(out, cur.String())
				cur.Reset()
				inField = false
			}
		default:
			cur.WriteRune(ch)
			inField = true
		}
	}
	if inField || cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

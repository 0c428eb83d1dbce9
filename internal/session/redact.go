package session

import (
	"bytes"
	"encoding/json"
	"regexp"
)

// Traffic logs (--log) show every message, and a launch carries the
// program's environment, where API keys and passwords live, and a client
// may send credentials in other fields. The log gets a copy with those
// values replaced; what reaches Delve or the client is never changed.

const redacted = "[redacted]"

// secretKey matches field names whose values are secrets.
var secretKey = regexp.MustCompile(`(?i)(token|passw|secret|credential|api_?key|auth|cookie|private_?key)`)

// mayHoldSecret is a cheap test before decoding: most messages (stack
// traces, variables, output) name none of these fields.
var mayHoldSecret = regexp.MustCompile(`(?i)"(env|[^"]*(token|passw|secret|credential|api_?key|auth|cookie|private_?key)[^"]*)"\s*:`)

// redactForLog returns msg with secret values replaced, for logging only.
func redactForLog(msg []byte) []byte {
	if !mayHoldSecret.Match(msg) {
		return msg
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []byte(`"(undecodable message not logged: it may hold a secret)"`)
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		return []byte(`"(message not logged: it may hold a secret)"`)
	}
	return out
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch {
			case k == "env":
				// Every variable: which of them are secret is the user's
				// knowledge, not ours.
				if env, ok := val.(map[string]any); ok {
					for name := range env {
						env[name] = redacted
					}
					continue
				}
				x[k] = redacted
			case secretKey.MatchString(k):
				x[k] = redacted
			default:
				x[k] = redactValue(val)
			}
		}
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
	}
	return v
}

package dapx

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/testutil"
)

// Every value outside its range or of the wrong type is refused with an
// error that names the field and says what it accepts. Before the check,
// refreshSeconds 1e-9 made the debuggee spend most of a CPU serving
// profiles, and 1e10 made the refresh loop panic and stop silently.
func TestParseLaunchConfigRefuses(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`{"refreshSeconds": 1e-9}`, `"lockscope.refreshSeconds" is 1e-9; want a number in [0.5, 3600]`},
		{`{"refreshSeconds": 1e-10}`, `"lockscope.refreshSeconds" is 1e-10; want a number in [0.5, 3600]`},
		{`{"refreshSeconds": 1e10}`, `"lockscope.refreshSeconds" is 1e10; want a number in [0.5, 3600]`},
		{`{"refreshSeconds": 0}`, `"lockscope.refreshSeconds" is 0; want a number in [0.5, 3600]`},
		{`{"refreshSeconds": -1}`, `"lockscope.refreshSeconds" is -1; want a number in [0.5, 3600]`},
		{`{"refreshSeconds": 1e400}`, `"lockscope.refreshSeconds" is 1e400; want a number in [0.5, 3600]`},
		{`{"refreshSeconds": "2"}`, `"lockscope.refreshSeconds" is not a number; want a number in [0.5, 3600]`},
		{`{"traceSeconds": 601}`, `"lockscope.traceSeconds" is 601; want a number in [0, 60]`},
		{`{"traceSeconds": -0.5}`, `"lockscope.traceSeconds" is -0.5; want a number in [0, 60]`},
		{`{"mutexProfileFraction": -1}`, `"lockscope.mutexProfileFraction" is -1; want an integer in [0, 2147483647]`},
		{`{"mutexProfileFraction": 1.5}`, `"lockscope.mutexProfileFraction" is 1.5; want an integer in [0, 2147483647]`},
		{`{"blockProfileRate": 1e300}`, `"lockscope.blockProfileRate" is 1e300; want an integer in [0, 2147483647]`},
		{`{"capture": "on"}`, `"lockscope.capture" is "on"; want one of "auto", "off"`},
		{`{"capture": 1}`, `"lockscope.capture" is not a string; want one of "auto", "off"`},
		{`{"showAgentGoroutines": "yes"}`, `"lockscope.showAgentGoroutines" is not a boolean; want a boolean`},
		{`{"race": 1}`, `"lockscope.race" is not a boolean; want a boolean`},
		{`{"profiles": "a.pb.gz"}`, `"lockscope.profiles" is not an array of strings; want an array of strings`},
		{`{"allowHosts": [1]}`, `"lockscope.allowHosts" is not an array of strings; want an array of strings`},
		{`{"pprofURL": {}}`, `"lockscope.pprofURL" is not a string; want a string`},
		{`{"refreshSecond": 2}`, `"lockscope.refreshSecond" is not a lockscope attribute`},
		{`[]`, `"lockscope" must be an object`},
		{`"auto"`, `"lockscope" must be an object`},
	} {
		_, err := ParseLaunchConfig(json.RawMessage(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseLaunchConfig(%s) = %v, want an error containing %q", tc.raw, err, tc.want)
		}
	}
}

func TestParseLaunchConfigAccepts(t *testing.T) {
	cfg, err := ParseLaunchConfig(json.RawMessage(`{"capture":"auto","refreshSeconds":0.5,"traceSeconds":0,
		"mutexProfileFraction":5,"blockProfileRate":0,"pprofURL":"http://127.0.0.1:6060/debug/pprof",
		"allowHosts":["h"],"profiles":[],"traces":["t"],"race":true,"showAgentGoroutines":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RefreshSeconds != 0.5 || cfg.MutexProfileFraction != 5 || !cfg.Race || cfg.Traces[0] != "t" {
		t.Fatalf("decoded %+v", cfg)
	}
	if _, err := ParseLaunchConfig(json.RawMessage(`{"refreshSeconds":3600,"traceSeconds":60,"capture":null}`)); err != nil {
		t.Fatalf("the bounds themselves are allowed: %v", err)
	}
}

// An error quotes at most a short prefix of what the client sent.
func TestParseLaunchConfigQuotesShort(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	_, err := ParseLaunchConfig(json.RawMessage(`{"capture":"` + huge + `"}`))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error is %d bytes, want a short one", len(err.Error()))
	}
}

// schemaProp is one property of package.json's lockscope schema.
type schemaProp struct {
	Type    string   `json:"type"`
	Enum    []string `json:"enum"`
	Minimum *float64 `json:"minimum"`
	Maximum *float64 `json:"maximum"`
	Items   *struct {
		Type string `json:"type"`
	} `json:"items"`
}

// VS Code checks a launch configuration against package.json's schema as it
// is typed; the adapter checks it again against LaunchFields. The two must
// say the same, for launch and attach alike, or a value the editor accepts
// fails at F5 (or the reverse).
func TestLaunchFieldsMatchPackageJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Contributes struct {
			Debuggers []struct {
				Type                    string `json:"type"`
				ConfigurationAttributes map[string]struct {
					Properties struct {
						Lockscope struct {
							AdditionalProperties *bool                 `json:"additionalProperties"`
							Properties           map[string]schemaProp `json:"properties"`
						} `json:"lockscope"`
					} `json:"properties"`
				} `json:"configurationAttributes"`
			} `json:"debuggers"`
		} `json:"contributes"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatal(err)
	}
	if len(pkg.Contributes.Debuggers) == 0 {
		t.Fatal("package.json declares no debugger")
	}
	for _, request := range []string{"launch", "attach"} {
		attrs, ok := pkg.Contributes.Debuggers[0].ConfigurationAttributes[request]
		if !ok {
			t.Errorf("package.json has no %s attributes", request)
			continue
		}
		ls := attrs.Properties.Lockscope
		if ls.AdditionalProperties == nil || *ls.AdditionalProperties {
			t.Errorf("%s: lockscope schema allows unknown properties; the adapter refuses them", request)
		}
		for _, f := range LaunchFields {
			p, ok := ls.Properties[f.Name]
			if !ok {
				t.Errorf("%s: package.json does not declare lockscope.%s", request, f.Name)
				continue
			}
			typ := p.Type
			if typ == "" && len(p.Enum) > 0 {
				typ = "string"
			}
			if typ != f.Type {
				t.Errorf("%s: lockscope.%s has type %q in package.json, %q in Go", request, f.Name, typ, f.Type)
			}
			if f.Type == "array" && (p.Items == nil || p.Items.Type != "string") {
				t.Errorf("%s: lockscope.%s: package.json's items are not strings", request, f.Name)
			}
			if !slices.Equal(p.Enum, f.Enum) {
				t.Errorf("%s: lockscope.%s enum %q in package.json, %q in Go", request, f.Name, p.Enum, f.Enum)
			}
			checkBound(t, request+": lockscope."+f.Name+" minimum", p.Minimum, f.Min)
			checkBound(t, request+": lockscope."+f.Name+" maximum", p.Maximum, f.Max)
		}
		for name := range ls.Properties {
			if !slices.ContainsFunc(LaunchFields, func(f LaunchField) bool { return f.Name == name }) {
				t.Errorf("%s: package.json declares lockscope.%s, which the adapter does not accept", request, name)
			}
		}
	}
}

func checkBound(t *testing.T, what string, schema *float64, goSide float64) {
	t.Helper()
	switch {
	case schema == nil && !math.IsNaN(goSide):
		t.Errorf("%s: none in package.json, %v in Go", what, goSide)
	case schema != nil && math.IsNaN(goSide):
		t.Errorf("%s: %v in package.json, none in Go", what, *schema)
	case schema != nil && *schema != goSide:
		t.Errorf("%s: %v in package.json, %v in Go", what, *schema, goSide)
	}
}

package capture

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMergeBuildFlags(t *testing.T) {
	for _, tc := range []struct {
		name        string
		user        []string
		want        []string
		wantOverlay string
	}{
		{"none", nil, []string{"-ldflags=-checklinkname=0", "-overlay=O"}, ""},
		{"other flags kept in order", []string{"-C", "dir", "-tags", "x", "-race"},
			[]string{"-C", "dir", "-tags", "x", "-race", "-ldflags=-checklinkname=0", "-overlay=O"}, ""},
		{"ldflags joined form", []string{"-ldflags=-s -w"}, []string{"-ldflags=-s -w -checklinkname=0", "-overlay=O"}, ""},
		{"ldflags split form", []string{"-ldflags", "-X main.v=1", "-v"}, []string{"-ldflags=-X main.v=1 -checklinkname=0", "-v", "-overlay=O"}, ""},
		{"double dash", []string{"--ldflags=-s"}, []string{"-ldflags=-s -checklinkname=0", "-overlay=O"}, ""},
		{"last ldflags wins and gets ours", []string{"-ldflags=all=-s", "-ldflags=-w"},
			[]string{"-ldflags=all=-s", "-ldflags=-w -checklinkname=0", "-overlay=O"}, ""},
		{"already there", []string{"-ldflags=-checklinkname=0"}, []string{"-ldflags=-checklinkname=0", "-overlay=O"}, ""},
		{"user overlay taken out", []string{"-overlay", "/u.json", "-tags=x"}, []string{"-tags=x", "-ldflags=-checklinkname=0", "-overlay=O"}, "/u.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ov, err := MergeBuildFlags(tc.user, "O")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) || ov != tc.wantOverlay {
				t.Errorf("MergeBuildFlags(%q)\n got %q overlay %q\nwant %q overlay %q", tc.user, got, ov, tc.want, tc.wantOverlay)
			}
		})
	}
}

func TestDelveBuildFlags(t *testing.T) {
	for _, tc := range []struct {
		raw     any
		want    []string
		wantErr string
	}{
		{nil, nil, ""},
		{"", nil, ""},
		{"-tags=x -ldflags='-X main.v=a b'", []string{"-tags=x", "-ldflags=-X main.v=a b"}, ""},
		{"-C  dir\t-race", []string{"-C", "dir", "-race"}, ""},
		{`-ldflags='it\'s'`, []string{"-ldflags=it's"}, ""},
		{[]string{"-ldflags", "-s -w"}, []string{"-ldflags", "-s -w"}, ""},
		{[]any{"-race", "-tags=y"}, []string{"-race", "-tags=y"}, ""},
		{json.RawMessage(`["-a","-b c"]`), []string{"-a", "-b c"}, ""},
		{json.RawMessage(`"-a -b"`), []string{"-a", "-b"}, ""},
		{json.RawMessage(`null`), nil, ""},
		{[]any{"-race", 3.0}, nil, "buildFlags[1] is float64"},
		{42.0, nil, "want a string or an array"},
		{json.RawMessage(`{"x":1}`), nil, "want a string or an array"},
	} {
		got, err := DelveBuildFlags(tc.raw)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("DelveBuildFlags(%v): err %v, want %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DelveBuildFlags(%#v) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

// The merged flags build for real: the user's -ldflags value still applies
// (the -X reaches the program) and the user's overlay entries survive next
// to the agent's.
func TestMergedFlagsBuildForReal(t *testing.T) {
	tmp := t.TempDir()
	// A user module with a variable set by -X and a file that exists only
	// in the user's own overlay.
	os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module example.com/u\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(tmp, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nvar version = \"dev\"\n\nfunc main() { fmt.Println(version, extra()) }\n"), 0o644)
	extraSrc := filepath.Join(tmp, "extra.go.src")
	os.WriteFile(extraSrc, []byte("package main\n\nfunc extra() string { return \"from-user-overlay\" }\n"), 0o644)
	userOverlay := filepath.Join(tmp, "user-overlay.json")
	ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(tmp, "extra.go"): extraSrc}})
	os.WriteFile(userOverlay, ov, 0o644)

	user, err := DelveBuildFlags("-ldflags='-X main.version=v9' -overlay=" + userOverlay)
	if err != nil {
		t.Fatal(err)
	}
	inj, bin := buildAgent(t, PrepareOptions{Program: tmp, UserBuildFlags: user})
	cmd := exec.Command(bin)
	cmd.Env = inj.Environ(os.Environ())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "v9 from-user-overlay" {
		t.Errorf("program printed %q, want %q", got, "v9 from-user-overlay")
	}
	if _, exited, _ := inj.Final(); !exited {
		t.Errorf("agent did not run in the program built with merged flags")
	}
}

func TestTestFlags(t *testing.T) {
	got := TestFlags("/o", 0, 5, true, true)
	want := []string{"-test.mutexprofile=/o/mutex.pb.gz", "-test.mutexprofilefraction=1",
		"-test.blockprofile=/o/block.pb.gz", "-test.blockprofilerate=5", "-test.trace=/o/trace.out"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := TestFlags("/o", 2, 0, false, false); got[0] != "-mutexprofile=/o/mutex.pb.gz" || len(got) != 4 {
		t.Errorf("go test form: %q", got)
	}
}

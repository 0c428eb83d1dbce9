package contention

import "testing"

func TestIsAgentFrame(t *testing.T) {
	for _, tc := range []struct {
		file, fn string
		want     bool
	}{
		{"/x/zz_lockscope_agent.go", "main.init.0", true},
		{"", "main.lockscopeAgentSaveProfiles", true},
		{"", "main.lockscopeAgentRun.func1", true},
		{"", "main.(*lockscopeAgentBuffer).Write", true},
		{"", "main.(lockscopeAgentProto).str", true},
		{"", "example.com/app/cmd.lockscopeAgentRun", true},
		{"/x/main.go", "main.lockscope", false},
		{"/x/main.go", "main.(*Cache).lockscopeAgentish", false},
		{"", "", false},
	} {
		if got := IsAgentFrame(tc.file, tc.fn); got != tc.want {
			t.Errorf("IsAgentFrame(%q, %q) = %v, want %v", tc.file, tc.fn, got, tc.want)
		}
	}
}

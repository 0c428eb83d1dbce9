package delve

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckExternalFlags(t *testing.T) {
	for _, ok := range [][]string{nil, {"--check-go-version=false"}, {"--log", "--log-output", "dap,debugger"}, {"--only-same-user=false"}} {
		if err := CheckExternalFlags(ok); err != nil {
			t.Errorf("CheckExternalFlags(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range [][]string{{"--listen=:4000"}, {"--log", "-l", "127.0.0.1:1"}, {"--client-addr=127.0.0.1:9"}} {
		err := CheckExternalFlags(bad)
		if err == nil || !strings.Contains(err.Error(), "lockscope starts dlv on an address of its own") {
			t.Errorf("CheckExternalFlags(%q) = %v, want a refusal", bad, err)
		}
	}
}

func TestEmbeddedIgnores(t *testing.T) {
	for _, c := range []struct {
		flags, want []string
	}{
		{nil, nil},
		{[]string{"--check-go-version=false"}, nil},
		{[]string{"--check-go-version=0", "--log"}, []string{"--log"}},
		{[]string{"--log-output", "dap", "--check-go-version=false", "--log-dest=/tmp/x"}, []string{"--log-output dap", "--log-dest=/tmp/x"}},
		// A bool flag takes its value after =: this one is not false.
		{[]string{"--check-go-version", "false"}, []string{"--check-go-version false"}},
	} {
		if got := EmbeddedIgnores(c.flags); !reflect.DeepEqual(got, c.want) {
			t.Errorf("EmbeddedIgnores(%q) = %q, want %q", c.flags, got, c.want)
		}
	}
}

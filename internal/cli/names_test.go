package cli

import (
	"path/filepath"
	"testing"

	"github.com/lockscope/lockscope/internal/testutil"
)

// Names print as a Go developer writes them: the package's own name (not
// the /v2 of its path) and a generic type's parameter names (not the
// compiler's shapes); without a readable source, Go's traceback form.
func TestFuncNames(t *testing.T) {
	file := filepath.Join(testutil.ModuleRoot(t), "testdata", "names", "lru", "v2", "cache.go")
	n := newFuncNamer()
	for _, tc := range []struct{ fn, file, want string }{
		{"github.com/x/golang-lru/v2.(*Cache[go.shape.string,go.shape.int]).Get", file, "lru.(*Cache[K,V]).Get"},
		{"github.com/x/golang-lru/v2.(*Cache[...]).Get", file, "lru.(*Cache[K,V]).Get"},
		{"github.com/x/golang-lru/v2.Keys[map[go.shape.string]go.shape.int,go.shape.string,go.shape.int]", file, "lru.Keys[M,K,V]"},
		{"github.com/x/golang-lru/v2.(*Cache[go.shape.string,go.shape.int]).Get", "", "golang-lru.(*Cache[...]).Get"},
		{"github.com/x/golang-lru/v2.(*Cache[example.com/a/b.T,go.shape.int]).Get.func1", "/no/such.go", "golang-lru.(*Cache[...]).Get.func1"},
		{"main.deposit", "", "main.deposit"},
		{"example.com/m/store.(*S).Add", "", "store.(*S).Add"},
		{"sync.(*Mutex).Lock", "", "sync.(*Mutex).Lock"},
		{"", "", ""},
	} {
		if got := n.name(tc.fn, tc.file); got != tc.want {
			t.Errorf("name(%q, %q) = %q, want %q", tc.fn, filepath.Base(tc.file), got, tc.want)
		}
	}
}

package cli

import (
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// TestTextLibraryLocks: a wait in a library lock says which lock it was,
// a dependency's line says where the user's code called it, and a queue on
// one lock says how long it was.
func TestTextLibraryLocks(t *testing.T) {
	r := contention.Empty()
	r.Hotspots = []contention.Hotspot{
		{Kind: contention.KindTraceBlocked, File: "/p/main.go", Line: 28, Function: "main.record", Primitive: contention.PrimMutex, Method: "Lock",
			DelayNs: 4e9, Count: 10, Share: 1, Lock: true, Via: "log.(*Logger).output → sync.Mutex.Lock"},
		{Kind: contention.KindBlock, File: "/mod/github.com/hashicorp/golang-lru/v2@v2.0.7/lru.go", Line: 96,
			Function: "github.com/hashicorp/golang-lru/v2.(*Cache[...]).Get", Primitive: contention.PrimRWMutex, Method: "Lock",
			DelayNs: 1e9, Count: 5, Share: 1, Lock: true, CallSite: &contention.Site{File: "/p/main.go", Line: 35, Function: "main.handle"}},
	}
	r.Chains = []contention.Chain{{WaitNs: 1e9, Count: 5, Lock: true, Links: []contention.Link{
		{File: "/mod/github.com/hashicorp/golang-lru/v2@v2.0.7/lru.go", Line: 96, Function: "github.com/hashicorp/golang-lru/v2.(*Cache[...]).Get",
			Reason: "sync", Role: "waits", Queue: 4, CallSite: &contention.Site{File: "/p/main.go", Line: 35}},
		{File: "/mod/github.com/hashicorp/golang-lru/v2@v2.0.7/lru.go", Line: 98, Function: "github.com/hashicorp/golang-lru/v2.(*Cache[...]).Get", Reason: "sync", Role: "holds"},
	}}}
	var b strings.Builder
	if err := writeText(&b, r, "/p", 10); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"main.go:28  main.record  sync.Mutex.Lock  inside log.(*Logger).output → sync.Mutex.Lock",
		"sync.RWMutex.Lock  via main.go:35",
		"(a queue of 4 on this lock)  via main.go:35",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

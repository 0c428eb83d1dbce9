package profiles

import (
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// PrimRuntime is the primitive of runtime-internal contention: the runtime's
// own locks (runtime.unlock), which no user line can fix directly.
const PrimRuntime = "runtime"

// primitive names the synchronisation primitive a frame belongs to and the
// method called on it.
type primitive struct {
	prim, method string
}

// primitives maps the functions through which the Go runtime charges mutex
// and block events to the primitive a person wrote. The outermost one on the
// stack (the one the user called) wins: RWMutex.Unlock calls Mutex.Unlock.
// Each distinct primitive gets a small index into prims (0: none), so the
// walk over samples compares bytes, not strings.
var primFuncs = []struct {
	name string
	p    primitive
}{
	{"sync.(*Mutex).Lock", primitive{contention.PrimMutex, "Lock"}},
	{"sync.(*Mutex).TryLock", primitive{contention.PrimMutex, "TryLock"}},
	{"sync.(*Mutex).Unlock", primitive{contention.PrimMutex, "Unlock"}},
	{"internal/sync.(*Mutex).Lock", primitive{contention.PrimMutex, "Lock"}},
	{"internal/sync.(*Mutex).Unlock", primitive{contention.PrimMutex, "Unlock"}},
	{"sync.(*RWMutex).Lock", primitive{contention.PrimRWMutex, "Lock"}},
	{"sync.(*RWMutex).Unlock", primitive{contention.PrimRWMutex, "Unlock"}},
	{"sync.(*RWMutex).RLock", primitive{contention.PrimRWMutex, "RLock"}},
	{"sync.(*RWMutex).RUnlock", primitive{contention.PrimRWMutex, "RUnlock"}},
	{"sync.(*RWMutex).rUnlockSlow", primitive{contention.PrimRWMutex, "RUnlock"}},
	{"sync.(*WaitGroup).Wait", primitive{contention.PrimWaitGroup, "Wait"}},
	{"sync.(*Cond).Wait", primitive{contention.PrimCond, "Wait"}},
	{"runtime.chanrecv", primitive{contention.PrimChan, "recv"}},
	{"runtime.chanrecv1", primitive{contention.PrimChan, "recv"}},
	{"runtime.chanrecv2", primitive{contention.PrimChan, "recv"}},
	{"runtime.chansend", primitive{contention.PrimChan, "send"}},
	{"runtime.chansend1", primitive{contention.PrimChan, "send"}},
	{"runtime.selectgo", primitive{contention.PrimSelect, "select"}},
	{"runtime.block", primitive{contention.PrimSelect, "select"}},
	{"runtime.unlock", primitive{PrimRuntime, "unlock"}},
	{"runtime.unlockWithRank", primitive{PrimRuntime, "unlock"}},
	{"runtime.unlock2", primitive{PrimRuntime, "unlock"}},
	{"runtime._LostContendedRuntimeLock", primitive{PrimRuntime, "unlock"}},
}

var (
	prims             = []primitive{{}}
	primByFunc        = map[string]uint8{}
	primRuntimeUnlock uint8
)

func init() {
	index := map[primitive]uint8{}
	for _, pf := range primFuncs {
		i, ok := index[pf.p]
		if !ok {
			i = uint8(len(prims))
			prims = append(prims, pf.p)
			index[pf.p] = i
		}
		primByFunc[pf.name] = i
	}
	primRuntimeUnlock = index[primitive{PrimRuntime, "unlock"}]
}

// runtimeLockFuncs are the leaf functions of runtime-internal contention.
// When a sample's leaf is one of them the contention is on a lock inside the
// runtime (a semaphore root, the scheduler), even when a user frame sits
// further down the stack.
var runtimeLockFuncs = map[string]bool{
	"runtime.unlock":                    true,
	"runtime.unlockWithRank":            true,
	"runtime.unlock2":                   true,
	"runtime._LostContendedRuntimeLock": true,
}

// testRoots are the functions that call a test, benchmark or example: the
// user frame right above one of them is the root of a test goroutine.
var testRoots = map[string]bool{
	"testing.tRunner":         true,
	"testing.(*B).runN":       true,
	"testing.runExample":      true,
	"testing.(*F).Fuzz.func1": true,
}

// funcInfo is what the analysis needs to know about one pprof Function,
// computed once per function rather than once per sample.
type funcInfo struct {
	name    string // as pprof prints it
	display string // name with compiler wrapper suffixes removed
	file    string
	class   usercode.Class
	// user: a sample may be charged here (the user's code or a
	// dependency's; see usercode.Class.Chargeable).
	user        bool
	prim        uint8 // index into prims; 0 unless a known primitive
	runtimeLock bool
	testRoot    bool
}

// classifier decides which frames are user code for one profile, by the
// one rule of internal/usercode.
type classifier struct {
	code usercode.Rules
}

// newClassifier takes the GOROOT the profiled binary recorded, from the
// runtime's own frames, over the one given: a profile may come from a
// binary built elsewhere.
func newClassifier(funcs []funcRec, code usercode.Rules) classifier {
	for _, f := range funcs {
		if r, ok := code.WithGOROOTFrom(f.name, f.file); ok {
			code = r
			break
		}
	}
	return classifier{code: code}
}

func (c classifier) info(name, file string) funcInfo {
	class := c.code.Class(name, file)
	return funcInfo{
		name:        name,
		file:        file,
		display:     displayName(name),
		prim:        primByFunc[name],
		runtimeLock: runtimeLockFuncs[name],
		testRoot:    testRoots[name],
		class:       class,
		user:        class.Chargeable(),
	}
}

// displayName removes the suffixes of compiler wrappers, so that a deferred
// or go'd call counts as the function that wrote it: main.f.deferwrap1 and
// main.f.gowrap2 are main.f, and a method value main.(*T).M-fm is
// main.(*T).M. The pprof name is kept in Hotspot.PprofFunction.
func displayName(name string) string {
	name = strings.TrimSuffix(name, "-fm")
	for _, w := range []string{".deferwrap", ".gowrap"} {
		i := strings.LastIndex(name, w)
		if i < 0 {
			continue
		}
		digits := name[i+len(w):]
		if digits != "" && strings.Trim(digits, "0123456789") == "" {
			return name[:i]
		}
	}
	return name
}

package profiles

import (
	"fmt"
	"math/rand"

	"github.com/google/pprof/profile"
)

// synthProfile builds a large mutex profile shaped like the ones the Go
// runtime writes: sample types contentions/count and delay/nanoseconds,
// leaf frames in sync (Mutex.Unlock inlined into its caller, RWMutex.Unlock
// calling Mutex.Unlock, RUnlock), some runtime.unlock samples, and below
// them many distinct stacks of user functions across many packages. It is
// used where size matters (the benchmark) and where many functions make a
// cross-check meaningful; the recorded profiles remain the reference.
func synthProfile(samples int, seed int64) *profile.Profile {
	rng := rand.New(rand.NewSource(seed))
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "contentions", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "contentions", Unit: "count"},
		Period:     1,
		TimeNanos:  1_700_000_000_000_000_000,
	}
	m := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x2000000, File: "/nonexistent/app", HasFunctions: true, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true}
	p.Mapping = []*profile.Mapping{m}
	fn := func(name, file string, start int64) *profile.Function {
		f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name, Filename: file, StartLine: start}
		p.Function = append(p.Function, f)
		return f
	}
	addr := uint64(0x401000)
	loc := func(lines ...profile.Line) *profile.Location {
		addr += 16
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: m, Address: addr, Line: lines}
		p.Location = append(p.Location, l)
		return l
	}
	const goroot = "/usr/local/go/src/"
	mu := fn("sync.(*Mutex).Unlock", goroot+"sync/mutex.go", 60)
	imu := fn("internal/sync.(*Mutex).Unlock", goroot+"internal/sync/mutex.go", 190)
	slow := fn("internal/sync.(*Mutex).unlockSlow", goroot+"internal/sync/mutex.go", 202)
	rw := fn("sync.(*RWMutex).Unlock", goroot+"sync/rwmutex.go", 190)
	rru := fn("sync.(*RWMutex).RUnlock", goroot+"sync/rwmutex.go", 110)
	runlock := fn("runtime.unlock", goroot+"runtime/lock_spinbit.go", 260)
	sem := fn("runtime.semrelease1", goroot+"runtime/sema.go", 200)
	goexit := fn("runtime.goexit", goroot+"runtime/asm_amd64.s", 1690)
	slowLoc := loc(profile.Line{Function: slow, Line: 221})
	rwLoc := loc(profile.Line{Function: rw, Line: 227})
	semLoc := loc(profile.Line{Function: runlock, Line: 261}, profile.Line{Function: sem, Line: 230})
	muLoc := loc(profile.Line{Function: mu, Line: 65})
	goexitLoc := loc(profile.Line{Function: goexit, Line: 1700})

	// 2000 user functions in 200 packages of 3 modules; 40 lines each.
	var user []*profile.Function
	for i := 0; i < 2000; i++ {
		mod := []string{"example.com/shop", "github.com/acme/billing", "gitlab.com/x/warehouse"}[i%3]
		pkg := fmt.Sprintf("%s/internal/pkg%03d", mod, i%200)
		var name string
		switch i % 4 {
		case 0:
			name = fmt.Sprintf("%s.(*Server%d).Handle", pkg, i)
		case 1:
			name = fmt.Sprintf("%s.process%d.func1", pkg, i)
		case 2:
			name = fmt.Sprintf("%s.worker%d", pkg, i)
		default:
			name = fmt.Sprintf("%s.(*Store%d).Put.deferwrap1", pkg, i)
		}
		user = append(user, fn(name, fmt.Sprintf("/home/dev/src/%s/file%d.go", pkg, i%7), int64(10+i%50)))
	}
	// Call paths share their outer frames, as real ones do: a goroutine
	// entry chain (2-6 frames), a middle chain (1-6 frames) and a leaf
	// location where sync.Mutex.Unlock is inlined into a user function.
	// Combined, most samples have their own stack, over about 8k
	// locations.
	userLoc := func() *profile.Location {
		f := user[rng.Intn(len(user))]
		ln := profile.Line{Function: f, Line: f.StartLine + int64(rng.Intn(40))}
		if rng.Intn(5) == 0 { // an inlined user callee
			g := user[rng.Intn(len(user))]
			return loc(profile.Line{Function: g, Line: g.StartLine + 3}, ln)
		}
		return loc(ln)
	}
	chain := func(minLen, maxLen int) []*profile.Location {
		c := make([]*profile.Location, minLen+rng.Intn(maxLen-minLen+1))
		for i := range c {
			c[i] = userLoc()
		}
		return c
	}
	var entries, middles [][]*profile.Location
	for i := 0; i < 300; i++ {
		entries = append(entries, append(chain(2, 6), goexitLoc))
	}
	for i := 0; i < 600; i++ {
		middles = append(middles, chain(1, 6))
	}
	var leafLocs []*profile.Location
	for i := 0; i < 3000; i++ {
		f := user[rng.Intn(len(user))]
		u := profile.Line{Function: f, Line: f.StartLine + int64(rng.Intn(40))}
		switch rng.Intn(4) {
		case 0:
			leafLocs = append(leafLocs, loc(profile.Line{Function: imu, Line: 198}, profile.Line{Function: mu, Line: 65}, u))
		case 1:
			leafLocs = append(leafLocs, loc(profile.Line{Function: rru, Line: 121}, u))
		default:
			leafLocs = append(leafLocs, loc(profile.Line{Function: mu, Line: 65}, u))
		}
	}
	var rwCallers []*profile.Location
	for i := 0; i < 600; i++ {
		rwCallers = append(rwCallers, userLoc())
	}
	for i := 0; i < samples; i++ {
		var stk []*profile.Location
		switch r := rng.Intn(100); {
		case r < 3: // runtime-internal: runtime.unlock under Mutex.Unlock
			stk = append(stk, semLoc, slowLoc, leafLocs[rng.Intn(len(leafLocs))])
		case r < 20: // RWMutex.Unlock -> Mutex.Unlock, then a user frame
			stk = append(stk, muLoc, rwLoc, rwCallers[rng.Intn(len(rwCallers))])
		default:
			stk = append(stk, leafLocs[rng.Intn(len(leafLocs))])
		}
		stk = append(stk, middles[rng.Intn(len(middles))]...)
		stk = append(stk, entries[rng.Intn(len(entries))]...)
		n := int64(1 + rng.Intn(2000))
		p.Sample = append(p.Sample, &profile.Sample{Location: stk, Value: []int64{n, n * int64(1000+rng.Intn(1_000_000))}})
	}
	return p
}

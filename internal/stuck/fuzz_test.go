package stuck

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseDump holds ParseDump to its promise on hostile input: an error
// or goroutines, never a panic, and an analysis of whatever it returns
// that does not panic either. Seeded with the runtime's real crash output.
func FuzzParseDump(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "deadlock-crash.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("goroutine 1 [sync.Mutex.Lock, 3 minutes]:\nmain.f(0x1, ...)\n\tmain.go:3 +0x1\ncreated by main.main in goroutine 1\n\tmain.go:9 +0x2\n"))
	f.Add([]byte("goroutine 3 [running]:\ngoroutine running on other thread; stack unavailable\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		gs, err := ParseDump(in)
		if err != nil {
			if gs != nil {
				t.Fatalf("goroutines and an error")
			}
			return
		}
		ix := tableIndex{calls: map[Line]Lock{}, held: map[Line][]Lock{}}
		for _, g := range gs {
			for _, fr := range g.Frames {
				ix.calls[Line{fr.File, fr.Line}] = Lock{Expr: "mu", ID: "mu"}
				ix.held[Line{fr.File, fr.Line}] = []Lock{{Expr: "mu", ID: "mu"}}
			}
		}
		now := time.Now()
		Analyze([]Sample{{At: now, Goroutines: gs, WaitsEnded: map[Line]int64{}}, {At: now.Add(time.Minute), Goroutines: gs, WaitsEnded: map[Line]int64{}}}, ix, Options{AllBlocked: true})
	})
}

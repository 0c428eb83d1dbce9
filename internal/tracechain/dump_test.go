package tracechain

import (
	"encoding/json"
	"os"
	"testing"
)

func TestDumpTmp(t *testing.T) {
	f, err := os.Open(os.Getenv("TRACEFILE"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Analyze(f, Options{Name: "x", MaxChains: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Hotspots {
		res.Hotspots[i].Stacks = nil
	}
	if len(res.Edges) > 10 {
		res.Edges = res.Edges[:10]
	}
	b, _ := json.MarshalIndent(res, "", " ")
	t.Log(string(b))
}

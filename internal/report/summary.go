package report

import (
	"fmt"
	"slices"

	"github.com/lockscope/lockscope/internal/contention"
)

// Summary is an analysed input in a form that can be written out and read
// back (a saved capture keeps a trace this way: its hotspots and chains,
// not the trace itself, which can be hundreds of MB).
type Summary struct {
	Kinds    []string             `json:"kinds"`
	Hotspots []contention.Hotspot `json:"hotspots"`
	Runtime  []contention.Hotspot `json:"runtime,omitempty"`
	Chains   []contention.Chain   `json:"chains"`
	Notes    []string             `json:"notes,omitempty"`
	Source   contention.Source    `json:"source"`
}

// Summary returns the part's analysis; it shares nothing with the part.
func (p *Part) Summary() Summary {
	return Summary{
		Kinds:    slices.Clone(p.kinds),
		Hotspots: slices.Clone(p.hotspots),
		Runtime:  slices.Clone(p.runtime),
		Chains:   slices.Clone(p.chains),
		Notes:    slices.Clone(p.notes),
		Source:   p.source,
	}
}

// knownKinds are the kinds a part may supply.
var knownKinds = map[string]bool{
	contention.KindMutex: true, contention.KindBlock: true, contention.KindTrace: true,
	contention.KindTraceBlocked: true, contention.KindTraceBlocks: true,
}

// PartFromSummary turns a summary read back into a part for [Builder.Add]
// or [Builder.Replace]. A summary from a file is input like any other: a
// kind the builder does not know is refused rather than kept.
func PartFromSummary(s Summary) (*Part, error) {
	if len(s.Kinds) == 0 {
		return nil, fmt.Errorf("the summary names no kind")
	}
	for _, k := range s.Kinds {
		if !knownKinds[k] {
			return nil, fmt.Errorf("the summary has an unknown kind %q", k)
		}
	}
	if !knownKinds[s.Source.Kind] {
		return nil, fmt.Errorf("the summary's source has an unknown kind %q", s.Source.Kind)
	}
	for _, h := range append(slices.Clone(s.Hotspots), s.Runtime...) {
		if !slices.Contains(s.Kinds, h.Kind) {
			return nil, fmt.Errorf("a hotspot of kind %q in a summary of %v", h.Kind, s.Kinds)
		}
	}
	return &Part{
		kinds:    slices.Clone(s.Kinds),
		hotspots: slices.Clone(s.Hotspots),
		runtime:  slices.Clone(s.Runtime),
		chains:   slices.Clone(s.Chains),
		notes:    slices.Clone(s.Notes),
		source:   s.Source,
	}, nil
}

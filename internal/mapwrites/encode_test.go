package mapwrites

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// roundTrip encodes and decodes ix.
func roundTrip(t *testing.T, ix *Index) *Index {
	t.Helper()
	var buf bytes.Buffer
	if err := ix.Encode(&buf); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := DecodeIndex(&buf)
	if err != nil {
		t.Fatalf("DecodeIndex: %v", err)
	}
	return got
}

// The indexes of real programs come back field for field, nil and empty
// lists included.
func TestEncodeRoundTripsRealIndexes(t *testing.T) {
	for _, rel := range []string{"ledger", "rwcache", "inventory", "service", "lockedhelpers", "lockedcallbacks", "mapwrites", "tagged", "spawners", "xtest"} {
		ix, _ := load(t, rel)
		if len(ix.writes) == 0 && len(ix.sites) == 0 {
			t.Fatalf("%s: an empty index proves nothing", rel)
		}
		if got := roundTrip(t, ix); !reflect.DeepEqual(got, ix) {
			t.Errorf("%s: the decoded index differs from the encoded one", rel)
		}
	}
}

// fill sets every field of the value v points to a value that is not its
// zero, differently for each field (seed), so that a field the encoding
// forgets is noticed: a field added to MapWrite, Site, LockSite or Held
// fails this test until the encoding carries it.
func fill(t *testing.T, v reflect.Value, seed *int) {
	t.Helper()
	*seed++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*seed))
	case reflect.Float64:
		v.SetFloat(float64(*seed) + 0.5)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), seed)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type == reflect.TypeFor[*contention.Change]() {
				continue // a comparison's, refused (TestEncodeRefusesAComparison)
			}
			fill(t, v.Field(i), seed)
		}
	default:
		t.Fatalf("fill: no rule for %s", v.Type())
	}
}

// Every field of an index's parts is encoded.
func TestEncodeCarriesEveryField(t *testing.T) {
	seed := 0
	var w contention.MapWrite
	var s LockSite
	var h1, h2 Held
	for _, v := range []any{&w, &s, &h1, &h2} {
		fill(t, reflect.ValueOf(v).Elem(), &seed)
	}
	ix := &Index{
		writes:   []contention.MapWrite{w, {File: w.File, Writers: []contention.Site{}}, {}},
		sites:    []LockSite{s},
		problems: []string{"p1", "p2"},
		held: map[heldKey][]Held{
			{"/a.go", 1}: {h1, h2},
			{"/a.go", 2}: {},
			{"/a.go", 3}: nil,
			{"/b.go", 1}: {h2},
		},
	}
	if got := roundTrip(t, ix); !reflect.DeepEqual(got, ix) {
		t.Errorf("decoded %+v\nwant %+v", got, ix)
	}
	for _, empty := range []*Index{{}, {writes: []contention.MapWrite{}, sites: []LockSite{}, problems: []string{}, held: map[heldKey][]Held{}}} {
		if got := roundTrip(t, empty); !reflect.DeepEqual(got, empty) {
			t.Errorf("decoded %+v, want %+v", got, empty)
		}
	}
}

// The encoding knows the Index's fields: one added to the type fails here
// until Encode and DecodeIndex carry it.
func TestEncodeKnowsTheIndexFields(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[Index]().Fields() {
		names = append(names, f.Name)
	}
	if want := []string{"writes", "sites", "problems", "held"}; !slices.Equal(names, want) {
		t.Errorf("Index has fields %q; the encoding carries %q", names, want)
	}
}

// A comparison's Base is no index's: refused, not dropped.
func TestEncodeRefusesAComparison(t *testing.T) {
	ix := &Index{writes: []contention.MapWrite{{File: "/a.go", Line: 1, Base: &contention.Change{Status: contention.ChangeNew}}}}
	if err := ix.Encode(&bytes.Buffer{}); err == nil {
		t.Error("an index with a comparison was encoded")
	}
}

// Input that is not an encoded index of this format is an error, never a
// panic or an index.
func TestDecodeRefusesBadInput(t *testing.T) {
	ix, _ := load(t, "ledger")
	var buf bytes.Buffer
	if err := ix.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	for name, bad := range map[string]string{
		"empty":             "",
		"garbage":           "\x00\xffnot json",
		"cut short":         good[:len(good)/2],
		"another format":    strings.Replace(good, `"format":1,`, `"format":2,`, 1),
		"no format":         strings.Replace(good, `"format":1,`, ``, 1),
		"trailing data":     good + "{}",
		"file out of range": strings.Replace(good, `"f":0,`, `"f":100000,`, 1),
		"lock out of range": `{"format":1,"files":["/a.go"],"held":[{"f":0,"lines":[1],"locks":[[3]]}],"locks":[]}`,
		"lines and locks":   `{"format":1,"files":["/a.go"],"held":[{"f":0,"lines":[1,2],"locks":[[]]}],"locks":[]}`,
		"negative file":     `{"format":1,"files":["/a.go"],"sites":[{"f":-1}]}`,
	} {
		if bad == good {
			t.Fatalf("%s: the input was not changed", name)
		}
		if got, err := DecodeIndex(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, got)
		}
	}
}

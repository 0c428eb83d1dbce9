package profiles

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockscope/lockscope/internal/usercode"
)

// The fast path decodes profile.proto (github.com/google/pprof/proto/
// profile.proto) directly, reading only the fields the analysis needs:
//
//	Profile:   1 sample_type, 2 sample, 4 location, 5 function, 6 string_table
//	ValueType: 1 type, 2 unit (string table indices)
//	Sample:    1 location_id (packed or not), 2 value (packed or not)
//	Location:  1 id, 4 line
//	Line:      1 function_id, 2 line
//	Function:  1 id, 2 name, 4 filename (string table indices)
//
// It makes two passes over the bytes: the first reads the tables (the Go
// runtime writes samples before locations and functions), the second feeds
// each sample to the analysis without allocating a profile.Sample. Anything
// it does not accept makes AnalyzeData fall back on pprof's own parser.

var errProto = errors.New("malformed protobuf")

type pbuf struct {
	b []byte
	i int
}

func (d *pbuf) varint() (uint64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.b) {
			return 0, errProto
		}
		c := d.b[d.i]
		d.i++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, errProto
}

// key reads a field key: its number and wire type.
func (d *pbuf) key() (int, int, error) {
	k, err := d.varint()
	if err != nil {
		return 0, 0, err
	}
	if k>>3 == 0 || k>>3 > 1<<29 {
		return 0, 0, errProto
	}
	return int(k >> 3), int(k & 7), nil
}

// bytes reads a length-delimited field's payload.
func (d *pbuf) bytes() ([]byte, error) {
	n, err := d.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.b)-d.i) {
		return nil, errProto
	}
	b := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return b, nil
}

func (d *pbuf) skip(wire int) error {
	switch wire {
	case 0:
		_, err := d.varint()
		return err
	case 1:
		d.i += 8
	case 2:
		_, err := d.bytes()
		return err
	case 5:
		d.i += 4
	default:
		return errProto
	}
	if d.i > len(d.b) {
		return errProto
	}
	return nil
}

// uints appends a repeated varint field, packed (wire 2) or not (wire 0).
func (d *pbuf) uints(wire int, out []uint64) ([]uint64, error) {
	if wire == 0 {
		v, err := d.varint()
		return append(out, v), err
	}
	if wire != 2 {
		return out, errProto
	}
	b, err := d.bytes()
	if err != nil {
		return out, err
	}
	p := pbuf{b: b}
	for p.i < len(p.b) {
		v, err := p.varint()
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// decodeFast decodes an uncompressed profile and runs the analysis over it.
// A cancelled ctx stops it between batches of fields or samples.
func decodeFast(ctx context.Context, raw []byte, code usercode.Rules) (*analysis, error) {
	type fnIdx struct{ id, name, file uint64 }
	var (
		strs    []string
		types   [][2]uint64
		fns     []fnIdx
		locs    []locRec
		lines   []lineRec
		lineEnd []int
	)
	d := pbuf{b: raw}
	for n := 0; d.i < len(d.b); n++ {
		if n%cancelEvery == 0 {
			if err := stopped(ctx, 0); err != nil {
				return nil, err
			}
		}
		field, wire, err := d.key()
		if err != nil {
			return nil, err
		}
		if wire != 2 || (field != 1 && field != 4 && field != 5 && field != 6) {
			if err := d.skip(wire); err != nil {
				return nil, err
			}
			continue
		}
		b, err := d.bytes()
		if err != nil {
			return nil, err
		}
		m := pbuf{b: b}
		switch field {
		case 1: // sample_type
			var vt [2]uint64
			for m.i < len(m.b) {
				f, w, err := m.key()
				if err != nil {
					return nil, err
				}
				if (f == 1 || f == 2) && w == 0 {
					if vt[f-1], err = m.varint(); err != nil {
						return nil, err
					}
				} else if err := m.skip(w); err != nil {
					return nil, err
				}
			}
			types = append(types, vt)
		case 4: // location
			var l locRec
			for m.i < len(m.b) {
				f, w, err := m.key()
				if err != nil {
					return nil, err
				}
				switch {
				case f == 1 && w == 0:
					if l.id, err = m.varint(); err != nil {
						return nil, err
					}
				case f == 4 && w == 2:
					lb, err := m.bytes()
					if err != nil {
						return nil, err
					}
					var ln lineRec
					lm := pbuf{b: lb}
					for lm.i < len(lm.b) {
						f, w, err := lm.key()
						if err != nil {
							return nil, err
						}
						switch {
						case f == 1 && w == 0:
							ln.fnID, err = lm.varint()
						case f == 2 && w == 0:
							var v uint64
							v, err = lm.varint()
							ln.line = int64(v)
						default:
							err = lm.skip(w)
						}
						if err != nil {
							return nil, err
						}
					}
					lines = append(lines, ln)
				default:
					if err := m.skip(w); err != nil {
						return nil, err
					}
				}
			}
			if l.id == 0 {
				return nil, errProto
			}
			locs = append(locs, l)
			lineEnd = append(lineEnd, len(lines))
		case 5: // function
			var fn fnIdx
			for m.i < len(m.b) {
				f, w, err := m.key()
				if err != nil {
					return nil, err
				}
				switch {
				case f == 1 && w == 0:
					fn.id, err = m.varint()
				case f == 2 && w == 0:
					fn.name, err = m.varint()
				case f == 4 && w == 0:
					fn.file, err = m.varint()
				default:
					err = m.skip(w)
				}
				if err != nil {
					return nil, err
				}
			}
			if fn.id == 0 {
				return nil, errProto
			}
			fns = append(fns, fn)
		case 6: // string_table
			strs = append(strs, string(b))
		}
	}
	if len(strs) == 0 || strs[0] != "" {
		return nil, errProto // pprof requires the empty string first
	}
	str := func(i uint64) (string, error) {
		if i >= uint64(len(strs)) {
			return "", errProto
		}
		return strs[i], nil
	}
	var vts []valueType
	for _, t := range types {
		typ, err1 := str(t[0])
		unit, err2 := str(t[1])
		if err1 != nil || err2 != nil {
			return nil, errProto
		}
		vts = append(vts, valueType{typ, unit})
	}
	a, err := newAnalysis(vts)
	if err != nil {
		return nil, err
	}
	funcs := make([]funcRec, len(fns))
	for i, f := range fns {
		name, err1 := str(f.name)
		file, err2 := str(f.file)
		if err1 != nil || err2 != nil {
			return nil, errProto
		}
		funcs[i] = funcRec{f.id, name, file}
	}
	start := 0
	for i := range locs {
		locs[i].lines = lines[start:lineEnd[i]:lineEnd[i]]
		start = lineEnd[i]
	}
	a.index(funcs, locs, code)
	if a.dupIDs {
		return nil, fmt.Errorf("%w: duplicate location or function IDs", errProto)
	}

	// Second pass: the samples. ref is the offset of a sample's length
	// prefix, so stackOf can decode it again for the few stacks shown.
	var ids []uint64
	var vals []uint64
	decodeSample := func(ref int, stk []int32) ([]int32, []uint64, error) {
		p := pbuf{b: raw, i: ref}
		b, err := p.bytes()
		if err != nil {
			return stk, nil, err
		}
		m := pbuf{b: b}
		ids, vals = ids[:0], vals[:0]
		for m.i < len(m.b) {
			f, w, err := m.key()
			if err != nil {
				return stk, nil, err
			}
			switch f {
			case 1:
				ids, err = m.uints(w, ids)
			case 2:
				vals, err = m.uints(w, vals)
			default:
				err = m.skip(w)
			}
			if err != nil {
				return stk, nil, err
			}
		}
		for _, id := range ids {
			li, ok := a.resolve(id)
			if !ok {
				return stk, nil, fmt.Errorf("%w: a sample names location %d, which is not in the profile", errProto, id)
			}
			stk = append(stk, li)
		}
		return stk, vals, nil
	}
	a.stackOf = func(ref int64, buf []int32) []int32 {
		stk, _, _ := decodeSample(int(ref), buf)
		return stk
	}
	var stk []int32
	d = pbuf{b: raw}
	for n := 0; d.i < len(d.b); {
		field, wire, err := d.key()
		if err != nil {
			return nil, err
		}
		if field != 2 {
			if err := d.skip(wire); err != nil {
				return nil, err
			}
			continue
		}
		if wire != 2 {
			return nil, errProto
		}
		if n%cancelEvery == 0 {
			if err := stopped(ctx, n); err != nil {
				return nil, err
			}
		}
		n++
		ref := d.i
		var v []uint64
		stk, v, err = decodeSample(ref, stk[:0])
		if err != nil {
			return nil, err
		}
		if len(v) != a.nValues {
			return nil, fmt.Errorf("%w: a sample has %d values for %d sample types", errProto, len(v), a.nValues)
		}
		a.sample(int64(ref), stk, int64(v[a.delayIdx]), int64(v[a.countIdx]))
		if err := d.skip(2); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Package profiles turns pprof mutex and block profiles into per-line
// [contention.Hotspot] values: the holder side (the mutex profile charges
// Unlock stacks) and the waiter side (the block profile charges Lock, Wait,
// channel and select stacks).
//
// [Parse] reads the bytes of a profile (.pb.gz, .pb or any format that
// github.com/google/pprof/profile understands) with a cap on the decompressed
// size, so that a gzip bomb fails fast instead of eating memory. [Analyze]
// walks the samples once and charges each one to its first user frame.
// The package does no I/O beyond the bytes it is given.
package profiles

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/google/pprof/profile"
)

// DefaultMaxDecompressed is the default cap on the decompressed size of a
// profile. Real mutex and block profiles are kilobytes to a few megabytes;
// 256 MiB leaves room for huge ones while stopping gzip bombs.
const DefaultMaxDecompressed = 256 << 20

// maxGzipLayers bounds nested gzip (a gzip of a gzip...). The runtime writes
// one layer; anything deeper than this is hostile or broken.
const maxGzipLayers = 3

// Options tune [Parse].
type Options struct {
	// MaxDecompressed caps the size of the profile after gzip
	// decompression, in bytes. Zero means [DefaultMaxDecompressed].
	MaxDecompressed int64
	// MaxRatio caps the compression ratio (bytes out per compressed byte
	// read) once the output passes 8 MiB. Profiles compress about 5-20x;
	// a run of zeros compresses about 1000x. The check stops a bomb after
	// 8 MiB instead of after MaxDecompressed, which matters when inflating
	// is slow (a race-enabled build takes seconds per 256 MiB). Zero means
	// [DefaultMaxRatio]; a negative value turns the check off.
	MaxRatio int64
}

// DefaultMaxRatio is the default for Options.MaxRatio.
const DefaultMaxRatio = 200

// ratioFloor is the output size below which the ratio is not checked: a
// small profile may well be mostly repeated bytes.
const ratioFloor = 8 << 20

// ErrTooLarge is wrapped by the error [Parse] returns when the decompressed
// profile would exceed the limit.
var ErrTooLarge = errors.New("decompressed profile exceeds the size limit")

// ErrRatio is wrapped by the error [Parse] returns when the data inflates
// far more than any profile does.
var ErrRatio = errors.New("gzip data inflates implausibly")

// Parse decodes one profile. name names the input (a file path, a URL) in
// errors. Gzip layers are removed here, under opts.MaxDecompressed, before
// pprof's parser sees the bytes: profile.ParseData would otherwise inflate
// without a bound.
func Parse(data []byte, name string, opts Options) (p *profile.Profile, err error) {
	if name == "" {
		name = "profile"
	}
	limit := opts.MaxDecompressed
	if limit <= 0 {
		limit = DefaultMaxDecompressed
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty input, not a profile", name)
	}
	for layer := 0; isGzip(data); layer++ {
		if layer == maxGzipLayers {
			return nil, fmt.Errorf("%s: more than %d nested gzip layers; not a profile the Go runtime writes", name, maxGzipLayers)
		}
		ratio := opts.MaxRatio
		if ratio == 0 {
			ratio = DefaultMaxRatio
		}
		data, err = gunzip(data, limit, ratio)
		if errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("%s: %w (%d bytes; a gzip bomb?) - raise Options.MaxDecompressed if the profile is genuine", name, ErrTooLarge, limit)
		}
		if errors.Is(err, ErrRatio) {
			return nil, fmt.Errorf("%s: %w (more than %d:1 past %d MiB; a gzip bomb?) - raise Options.MaxRatio if the profile is genuine", name, ErrRatio, ratio, ratioFloor>>20)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: bad gzip data (truncated or corrupt): %v", name, err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("%s: gzip data decompresses to nothing, not a profile", name)
		}
	}
	// pprof's decoder is fuzzed, but a hostile input must never take the
	// session down with it.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("%s: malformed profile (the pprof decoder panicked: %v)", name, r)
		}
	}()
	p, err = profile.ParseData(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable pprof profile (truncated or garbage?): %v", name, err)
	}
	return p, nil
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gunzip inflates b, failing with ErrTooLarge as soon as the output would
// pass limit bytes, or with ErrRatio when it grows more than ratio times
// faster than the input is read (ratio < 0: no check), so a bomb costs at
// most a few megabytes and milliseconds.
func gunzip(b []byte, limit, ratio int64) ([]byte, error) {
	in := &countingReader{r: bytes.NewReader(b)}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	// Start from a guess (profiles compress about 4-8x) but never above
	// the limit, so a tiny bomb cannot make us preallocate much.
	guess := min(int64(len(b))*8, limit, 64<<20)
	var buf bytes.Buffer
	buf.Grow(int(guess))
	chunk := make([]byte, 256<<10)
	for {
		n, err := zr.Read(chunk)
		buf.Write(chunk[:n])
		out := int64(buf.Len())
		if out > limit {
			return nil, ErrTooLarge
		}
		if ratio >= 0 && out > ratioFloor && out > ratio*max(in.n, 1) {
			return nil, ErrRatio
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// countingReader counts the compressed bytes the decompressor has consumed.
// bytes.Reader is an io.ByteReader, so flate reads it without buffering
// ahead and the count is exact; the wrapper keeps that property.
type countingReader struct {
	r *bytes.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

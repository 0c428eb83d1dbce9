package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxFileSize caps a profile or trace file read by ReadInput.
const MaxFileSize = 512 << 20

// Input kinds, as sniffed from the bytes.
const (
	InputProfile = "profile" // a pprof proto, gzipped or not
	InputTrace   = "trace"   // a runtime/trace execution trace
)

// Input is an opened profile or trace file whose kind is known from its
// first bytes. Traces are meant to be streamed: the trace analysis keeps
// one generation in memory, so reading a 200 MB trace whole first would
// more than double the peak.
type Input struct {
	io.Reader // the whole file, from its first byte
	Kind      string
	Size      int64
	Path      string
	f         *os.File
}

// Close closes the file.
func (in *Input) Close() error { return in.f.Close() }

// OpenInput opens a profile or trace file and checks that it looks like
// one (a gzipped or raw pprof proto, or a Go execution trace). Errors name
// the file.
func OpenInput(path string) (*Input, error) {
	// Stat before opening: opening a FIFO for reading blocks until a writer
	// comes, and /dev/zero or a 1 GiB sparse file would be read for nothing.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	if err := checkRegular(path, st); err != nil {
		return nil, err
	}
	// O_NONBLOCK keeps a file swapped for a FIFO after the Stat from
	// blocking the open; the Stat of the open file then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	st, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	if err := checkRegular(path, st); err != nil {
		f.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(16)
	if len(head) == 0 {
		f.Close()
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: %w", path, unwrapPathErr(err))
		}
		return nil, fmt.Errorf("%s: empty file", path)
	}
	kind := Sniff(head)
	if kind == "" {
		if strings.HasSuffix(path, ".pb") || strings.HasSuffix(filepath.Base(path), ".prof") {
			// A raw proto has no magic number; let the parser judge it.
			kind = InputProfile
		} else {
			f.Close()
			return nil, fmt.Errorf("%s: neither a pprof profile (gzipped proto) nor a Go execution trace", path)
		}
	}
	return &Input{Reader: br, Kind: kind, Size: st.Size(), Path: path, f: f}, nil
}

// checkRegular refuses anything but a regular file of at most MaxFileSize
// bytes for a profile (traces are streamed, so only the kind matters).
func checkRegular(path string, st os.FileInfo) error {
	switch {
	case st.IsDir():
		return fmt.Errorf("%s: is a directory, not a profile or trace file", path)
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file (%s); lockscope reads profile and trace files only", path, st.Mode().Type())
	}
	return nil
}

// ReadInput reads a profile or trace file whole, with a size cap (see
// [OpenInput] to stream a trace instead). Errors name the file.
func ReadInput(path string) (data []byte, kind string, err error) {
	in, err := OpenInput(path)
	if err != nil {
		return nil, "", err
	}
	defer in.Close()
	if in.Size > MaxFileSize {
		return nil, "", fmt.Errorf("%s: larger than %d MiB; refused", path, MaxFileSize>>20)
	}
	data, err = io.ReadAll(io.LimitReader(in, MaxFileSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	if len(data) > MaxFileSize {
		return nil, "", fmt.Errorf("%s: larger than %d MiB; refused", path, MaxFileSize>>20)
	}
	return data, in.Kind, nil
}

// Sniff tells a gzipped pprof profile from a Go execution trace by their
// first bytes; it returns "" when neither matches.
func Sniff(data []byte) string {
	switch {
	case len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b:
		return InputProfile
	case bytes.HasPrefix(data, []byte("go 1.")) && bytes.Contains(data[:min(len(data), 16)], []byte(" trace")):
		return InputTrace
	}
	return ""
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

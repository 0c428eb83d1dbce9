package capture

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MaxFileSize caps a profile or trace file read by ReadInput.
const MaxFileSize = 512 << 20

// Input kinds, as sniffed from the bytes.
const (
	InputProfile = "profile" // a pprof proto, gzipped or not
	InputTrace   = "trace"   // a runtime/trace execution trace
)

// ReadInput reads a profile or trace file with a size cap, and checks that
// it looks like one (a gzipped or raw pprof proto, or a Go execution trace).
// Errors name the file.
func ReadInput(path string) (data []byte, kind string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	if st.IsDir() {
		return nil, "", fmt.Errorf("%s: is a directory, not a profile or trace file", path)
	}
	data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	}
	if len(data) > MaxFileSize {
		return nil, "", fmt.Errorf("%s: larger than %d MiB; refused", path, MaxFileSize>>20)
	}
	if len(data) == 0 {
		return nil, "", fmt.Errorf("%s: empty file", path)
	}
	kind = Sniff(data)
	if kind == "" {
		if strings.HasSuffix(path, ".pb") || strings.HasSuffix(filepath.Base(path), ".prof") {
			// A raw proto has no magic number; let the parser judge it.
			kind = InputProfile
		} else {
			return nil, "", fmt.Errorf("%s: neither a pprof profile (gzipped proto) nor a Go execution trace", path)
		}
	}
	return data, kind, nil
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

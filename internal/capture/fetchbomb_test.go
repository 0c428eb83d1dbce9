package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lockscope/lockscope/internal/profiles"
)

// gzipZeros returns n zero bytes, gzipped: a bomb of about 1000:1.
func gzipZeros(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := zw.Write(chunk[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// countingWriter counts what a handler managed to write.
type countingWriter struct {
	w http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// A server that sends a gzip bomb as Content-Encoding: gzip. Before the fix
// Go's client inflated it transparently, before any limit saw it: 1 MB on
// the wire became gigabytes of RSS. Now the body arrives as sent, and the
// profile parser's ratio check refuses it as it would a file.
func TestFetchURLDoesNotInflateContentEncoding(t *testing.T) {
	bomb := gzipZeros(t, 16<<20)
	var asked atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(bomb)))
		_, _ = w.Write(bomb)
	}))
	defer srv.Close()
	data, err := FetchURL(context.Background(), srv.URL+"/debug/pprof/mutex", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != len(bomb) {
		t.Fatalf("fetched %d bytes for %d on the wire: the client inflated the body", len(data), len(bomb))
	}
	if got, _ := asked.Load().(string); strings.Contains(got, "gzip") {
		t.Errorf("the client asked for gzip (Accept-Encoding %q)", got)
	}
	if _, err := profiles.Parse(data, "bomb", profiles.Options{}); !errors.Is(err, profiles.ErrRatio) && !errors.Is(err, profiles.ErrTooLarge) {
		t.Fatalf("the fetched bomb parsed with %v, want a ratio or size refusal", err)
	}
}

// A server that declares a 2 GiB body is refused from its Content-Length,
// before the body is read.
func TestFetchURLRefusesDeclaredHugeBody(t *testing.T) {
	var wrote atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(2<<30, 10))
		_, _ = io.Copy(countingWriter{w, &wrote}, io.LimitReader(zeros{}, 2<<30))
	}))
	defer srv.Close()
	_, err := FetchURL(context.Background(), srv.URL+"/debug/pprof/block", 0, nil)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a 2 GiB body gave %v, want a refusal", err)
	}
	srv.CloseClientConnections()
	// What the server got out is what socket buffers took, not the body.
	if n := wrote.Load(); n > MaxFetchProfile {
		t.Errorf("the server wrote %d bytes before the refusal; want at most %d", n, MaxFetchProfile)
	}
}

// An endless fast stream with no Content-Length is cut at the profile cap,
// well under what a session can afford per fetch (three run at once).
func TestFetchURLCutsEndlessStream(t *testing.T) {
	var wrote atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(countingWriter{w, &wrote}, zeros{})
	}))
	defer srv.Close()
	_, err := FetchURL(context.Background(), srv.URL+"/debug/pprof/mutex", 0, nil)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("an endless stream gave %v, want a refusal at the cap", err)
	}
	srv.CloseClientConnections()
	const most = 64 << 20
	if n := wrote.Load(); n > most {
		t.Errorf("the client read on: the server wrote %d bytes; want at most %d", n, most)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lockscope/lockscope/internal/testutil"
	"github.com/lockscope/lockscope/internal/tracechain"
)

// FetchURLStream hands out a trace as it arrives: the test reads the first
// half of a real trace while the server still holds the second, then the
// whole stream analyses exactly as the file does.
func TestFetchURLStreamIsAStream(t *testing.T) {
	path := filepath.Join(testutil.ModuleRoot(t), "testdata", "traces", "ledger.trace")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("seconds") != "0.5" {
			http.Error(w, "want seconds=0.5", http.StatusBadRequest)
			return
		}
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write(data[half:])
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	body, err := FetchURLStream(context.Background(), srv.URL+"/debug/pprof/trace", 0.5, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	first := make([]byte, half)
	if _, err := io.ReadFull(body, first); err != nil {
		t.Fatalf("reading the first half while the server holds the rest: %v", err)
	}
	if !bytes.Equal(first, data[:half]) {
		t.Fatalf("the first half differs from the trace's")
	}
	close(release)
	got, err := tracechain.Analyze(context.Background(), io.MultiReader(bytes.NewReader(first), body), tracechain.Options{Name: "stream"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := tracechain.Analyze(context.Background(), bytes.NewReader(data), tracechain.Options{Name: "stream"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Events != want.Events || got.TotalSyncWaitNs != want.TotalSyncWaitNs || len(got.Hotspots) != len(want.Hotspots) {
		t.Errorf("streamed: %d events, %d ns, %d hotspots; the file: %d events, %d ns, %d hotspots",
			got.Events, got.TotalSyncWaitNs, len(got.Hotspots), want.Events, want.TotalSyncWaitNs, len(want.Hotspots))
	}
}

// A stream keeps FetchURL's refusals: an endless body fails the read that
// passes the cap, having handed out no more than the cap; an error status
// fails the call itself.
func TestFetchURLStreamRefusals(t *testing.T) {
	var wrote atomic.Int64
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(countingWriter{w, &wrote}, zeros{})
	}))
	defer endless.Close()
	body, err := fetchStream(context.Background(), endless.URL+"/debug/pprof/trace", 0, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, body)
	body.Close()
	if err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("an endless stream gave %v after %d bytes, want a refusal at the cap", err, n)
	}
	if n != 1<<20 {
		t.Errorf("the stream handed out %d bytes, want the cap's %d", n, 1<<20)
	}
	endless.CloseClientConnections()

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	if _, err := FetchURLStream(context.Background(), notFound.URL+"/debug/pprof/trace", 0, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404 gave %v, want an error naming the status", err)
	}
	if _, err := FetchURLStream(context.Background(), "http://192.0.2.1:6060/debug/pprof/trace", 0, nil); err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("a non-loopback host gave %v, want a refusal", err)
	}
}

// An agent's answer over the cap is refused before a byte of it is read
// (a sparse file: no disk is used), and its file is removed all the same.
func TestAgentAnswerCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "1.out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxAgentBody + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := openAnswer(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an answer of %d bytes gave %v, want a refusal", MaxAgentBody+1, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused answer file is still there: %v", err)
	}
}

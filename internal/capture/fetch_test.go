package capture

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// pprofServer serves the real net/http/pprof handlers, as a service that
// imports net/http/pprof does.
func pprofServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// contend makes real mutex contention in this process until stop closes.
func contend(stop chan struct{}) *sync.WaitGroup {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				for j := 0; j < 2000; j++ {
					_ = j * j
				}
				mu.Unlock()
			}
		}()
	}
	return &wg
}

func TestFetchURLRealPprof(t *testing.T) {
	old := runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(old)
	srv := pprofServer(t)
	stop := make(chan struct{})
	wg := contend(stop)
	defer func() { close(stop); wg.Wait() }()

	u, err := PprofURL(srv.URL, "mutex")
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/debug/pprof/mutex"; u != want {
		t.Errorf("PprofURL = %s, want %s", u, want)
	}
	data, err := FetchURL(context.Background(), u, 0.5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if Sniff(data) != InputProfile {
		t.Fatalf("fetched %d bytes that are not a gzipped profile", len(data))
	}
	// The delta profile over the window holds this test's contention.
	self, _ := filepath.Abs("fetch_test.go")
	var delay int64
	for line := 1; line < 80; line++ {
		delay += hotLine(t, data, self, line)
	}
	if delay <= 0 {
		t.Errorf("fetched mutex profile charges nothing to contend() in %s", self)
	}

	tu, _ := PprofURL(srv.URL+"/debug/pprof/", "trace")
	tr, err := FetchURL(context.Background(), tu, 0.2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if Sniff(tr) != InputTrace {
		t.Errorf("fetched trace does not start like a Go trace")
	}
}

func TestPprofURL(t *testing.T) {
	for _, tc := range []struct{ base, kind, want string }{
		{"http://h:1", "block", "http://h:1/debug/pprof/block"},
		{"http://h:1/", "block", "http://h:1/debug/pprof/block"},
		{"http://h:1/debug/pprof", "trace", "http://h:1/debug/pprof/trace"},
		{"http://h:1/debug/pprof/mutex?debug=1", "block", "http://h:1/debug/pprof/block"},
		{"http://h:1/svc", "mutex", "http://h:1/svc/debug/pprof/mutex"},
	} {
		if got, err := PprofURL(tc.base, tc.kind); err != nil || got != tc.want {
			t.Errorf("PprofURL(%s, %s) = %s, %v; want %s", tc.base, tc.kind, got, err, tc.want)
		}
	}
}

func TestFetchURLRefusals(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte{0x1f, 0x8b, 0, 0})
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/same" {
			http.Redirect(w, r, "/debug/pprof/ok", http.StatusFound)
			return
		}
		if r.URL.Path == "/debug/pprof/ok" {
			w.Write([]byte("ok"))
			return
		}
		http.Redirect(w, r, other.URL+"/debug/pprof/mutex", http.StatusFound)
	}))
	defer redirector.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 4096))
	}))
	defer big.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()

	for _, tc := range []struct {
		name, url string
		allowed   []string
		want      string
	}{
		{"other host", "http://192.0.2.1:6060/debug/pprof/mutex", nil, "not loopback and not allowed"},
		{"other host not in list", "http://192.0.2.1:6060/debug/pprof/mutex", []string{"192.0.2.2"}, "not loopback and not allowed"},
		{"file scheme", "file:///etc/passwd", nil, "only http and https"},
		{"no host", "http:///debug/pprof/mutex", nil, "no host"},
		{"redirect elsewhere", redirector.URL + "/debug/pprof/mutex", nil, "redirect to another host"},
		{"404", notFound.URL + "/debug/pprof/mutex", nil, "404"},
		{"oversize", big.URL + "/debug/pprof/mutex", nil, "larger than 1024 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetchURL(context.Background(), tc.url, 0, tc.allowed, 1024)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("fetch %s: err %v, want it to contain %q", tc.url, err, tc.want)
			}
		})
	}
	// A redirect within the same host is fine.
	if got, err := FetchURL(context.Background(), redirector.URL+"/same", 0, nil); err != nil || string(got) != "ok" {
		t.Errorf("same-host redirect: %q, %v", got, err)
	}
	// A listed host passes the check (here a loopback name given explicitly).
	if err := checkURL(mustParse(t, "http://db.internal:6060/x"), []string{"db.internal"}); err != nil {
		t.Errorf("allowed host refused: %v", err)
	}
	if err := checkURL(mustParse(t, "http://db.internal:6060/x"), []string{"db.internal:6060"}); err != nil {
		t.Errorf("allowed host:port refused: %v", err)
	}
}

// A server that never answers costs seconds*1.5+5 s, not forever.
func TestFetchURLTimeout(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	start := time.Now()
	_, err := FetchURL(context.Background(), hang.URL+"/debug/pprof/mutex", 0.1, nil)
	if err == nil || !strings.Contains(err.Error(), "no answer within 5.15s") {
		t.Fatalf("err %v, want a timeout naming 5.15s", err)
	}
	if el := time.Since(start); el > 60*time.Second {
		t.Errorf("gave up only after %s", el)
	}
}

func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("m.pb.gz", []byte{0x1f, 0x8b, 8, 0})
	tr := write("t.out", []byte("go 1.26 trace\x00\x00\x00rest"))
	raw := write("raw.pb", []byte{0x0a, 0x02})
	garbage := write("g.pb.gz", []byte("hello world"))
	empty := write("e.pb.gz", nil)
	if _, k, err := ReadInput(good); err != nil || k != InputProfile {
		t.Errorf("gzip profile: %s, %v", k, err)
	}
	if _, k, err := ReadInput(tr); err != nil || k != InputTrace {
		t.Errorf("trace: %s, %v", k, err)
	}
	if _, k, err := ReadInput(raw); err != nil || k != InputProfile {
		t.Errorf("raw .pb: %s, %v", k, err)
	}
	for _, tc := range []struct{ path, want string }{
		{garbage, "neither a pprof profile"},
		{empty, "empty file"},
		{dir, "is a directory"},
		{filepath.Join(dir, "missing.pb.gz"), "no such file"},
	} {
		_, _, err := ReadInput(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("ReadInput(%s): %v, want an error naming the file and saying %q", tc.path, err, tc.want)
		}
	}
}

package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
)

// A delta profile asked of net/http/pprof for a fraction of a second
// covers whole seconds (it takes no fraction, and the fetch rounds up):
// the source's duration, which a per-second comparison divides by, says
// what was asked of the service, not the fraction.
func TestFetchURLDeltaCoversWholeSeconds(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Query().Get("seconds"))
		mu.Unlock()
		if err := pprof.Lookup("mutex").WriteTo(w, 0); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	p := New()
	defer p.Close()
	part, err := p.FetchURL(context.Background(), contention.KindMutex, URLOptions{Base: srv.URL + "/debug/pprof", Seconds: 0.4})
	if err != nil {
		t.Fatal(err)
	}
	p.Add(part)
	var got []time.Duration
	for _, s := range p.Build().Sources {
		if s.Origin == contention.OriginURL {
			got = append(got, time.Duration(s.DurationNs))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != "1" {
		t.Errorf("the service was asked for seconds=%q, want 1", asked)
	}
	if len(got) != 1 || got[0] != time.Second {
		t.Errorf("the source covers %v, want the 1s the service was asked for", got)
	}
}

package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxFetchBody caps what FetchURL reads for a trace: a trace of a few
// seconds is tens of megabytes. FetchURL holds the body whole, so the cap
// is what one fetch may cost in memory; FetchURLStream holds none of it.
const MaxFetchBody = 128 << 20

// MaxFetchProfile caps what FetchURL reads for any other endpoint: a real
// mutex profile with 65k samples is about 1.2 MB gzipped. The profile
// parser then bounds what it inflates to (profiles.DefaultMaxDecompressed
// and the ratio check), as for a file.
const MaxFetchProfile = 32 << 20

// FetchURL captures from a live net/http/pprof endpoint. rawURL names one
// endpoint (for example http://127.0.0.1:6060/debug/pprof/mutex); when
// seconds > 0 and the URL has no seconds parameter, seconds=N is added, so
// mutex and block give the delta over the window (rounded up to whole
// seconds, as net/http/pprof wants) and trace records it.
//
// Only http and https are allowed, to a loopback host or to one of
// allowedHosts (a host name or host:port). A redirect is followed only to
// the same host and port. The whole request times out after seconds*1.5+5 s
// and the body is capped at MaxFetchBody for a trace, MaxFetchProfile for
// anything else. The body is returned as it came over the wire: a
// Content-Encoding is never undone here, so that a gzip bomb reaches the
// profile parser's inflation limits still compressed.
func FetchURL(ctx context.Context, rawURL string, seconds float64, allowedHosts []string) ([]byte, error) {
	return fetchURL(ctx, rawURL, seconds, allowedHosts, fetchLimit(rawURL))
}

// FetchURLStream is FetchURL without holding the body in memory: it
// returns the body as it arrives, for a trace analyser that reads it as a
// stream. The same rules, timeout and caps apply; a body that goes past
// its cap, or that stops coming before the timeout, fails the Read that
// finds it. The caller must Close the body.
func FetchURLStream(ctx context.Context, rawURL string, seconds float64, allowedHosts []string) (io.ReadCloser, error) {
	return fetchStream(ctx, rawURL, seconds, allowedHosts, fetchLimit(rawURL))
}

// fetchLimit is the cap of a body: MaxFetchBody for a trace,
// MaxFetchProfile for anything else.
func fetchLimit(rawURL string) int64 {
	if u, err := url.Parse(rawURL); err == nil && strings.HasSuffix(u.Path, "/trace") {
		return MaxFetchBody
	}
	return MaxFetchProfile
}

// fetchURL reads the whole body of fetchStream.
func fetchURL(ctx context.Context, rawURL string, seconds float64, allowedHosts []string, maxBody int64) ([]byte, error) {
	body, err := fetchStream(ctx, rawURL, seconds, allowedHosts, maxBody)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		// The stream's errors already name the URL.
		return nil, err
	}
	return data, nil
}

func fetchStream(ctx context.Context, rawURL string, seconds float64, allowedHosts []string, maxBody int64) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("capture: bad URL %q: %w", rawURL, err)
	}
	if err := checkURL(u, allowedHosts); err != nil {
		return nil, err
	}
	if seconds < 0 || seconds > 3600 {
		return nil, fmt.Errorf("capture: %s: seconds must be between 0 and 3600, got %v", rawURL, seconds)
	}
	if seconds > 0 {
		q := u.Query()
		if q.Get("seconds") == "" {
			v := strconv.FormatFloat(seconds, 'f', -1, 64)
			if !strings.HasSuffix(u.Path, "/trace") {
				// net/http/pprof takes whole seconds for delta profiles
				// (only its trace takes a fraction).
				v = strconv.Itoa(int(math.Ceil(seconds)))
			}
			q.Set("seconds", v)
			u.RawQuery = q.Encode()
		}
	}
	timeout := time.Duration(seconds*1.5*float64(time.Second)) + 5*time.Second
	// The timeout covers the body too: it ends when the body is closed.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	origin := u.Host
	client := &http.Client{
		// DisableCompression: Go's client otherwise asks for gzip and
		// inflates the answer before anyone can bound it; 1 MB on the wire
		// became gigabytes. pprof endpoints gzip their profiles themselves.
		Transport: &http.Transport{Proxy: nil, DisableCompression: true},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != origin {
				return fmt.Errorf("redirect to another host (%s) refused", req.URL.Host)
			}
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return checkURL(req.URL, allowedHosts)
		},
	}
	fail := func(err error) (io.ReadCloser, error) {
		cancel()
		client.CloseIdleConnections()
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(fmt.Errorf("capture: %s: %w", rawURL, err))
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fail(fmt.Errorf("capture: %s: no answer within %s", rawURL, timeout))
		}
		return fail(fmt.Errorf("capture: %s: %w", rawURL, err))
	}
	body := &fetchBody{
		resp: resp, url: rawURL, max: maxBody, timeout: timeout, ctx: ctx,
		done: func() { cancel(); client.CloseIdleConnections() },
	}
	if resp.StatusCode == http.StatusOK && resp.ContentLength > maxBody {
		// Refused before a byte of the body is read.
		body.Close()
		return nil, fmt.Errorf("capture: %s: answer of %d bytes is larger than %d bytes; refused", rawURL, resp.ContentLength, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		defer body.Close()
		msg, err := io.ReadAll(io.LimitReader(body, 4<<10))
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("capture: %s: %s: %s", rawURL, resp.Status, firstLine(msg))
	}
	return body, nil
}

// fetchBody is a response body read within its cap and its timeout.
type fetchBody struct {
	resp    *http.Response
	url     string
	max, n  int64
	timeout time.Duration
	ctx     context.Context
	done    func()
	closed  bool
}

func (b *fetchBody) Read(p []byte) (int, error) {
	if b.n > b.max {
		return 0, b.tooLarge()
	}
	// Ask for one byte past the cap at most, to tell a body of exactly
	// the cap from a longer one.
	if rest := b.max + 1 - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.resp.Body.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return n - int(b.n-b.max), b.tooLarge()
	}
	if err != nil && err != io.EOF {
		if b.ctx.Err() == context.DeadlineExceeded {
			return n, fmt.Errorf("capture: %s: no complete answer within %s", b.url, b.timeout)
		}
		return n, fmt.Errorf("capture: %s: %w", b.url, err)
	}
	return n, err
}

func (b *fetchBody) tooLarge() error {
	return fmt.Errorf("capture: %s: answer larger than %d bytes; refused", b.url, b.max)
}

// Close ends the request and its timeout.
func (b *fetchBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.resp.Body.Close()
	b.done()
	return err
}

// checkURL allows http(s) to loopback or to a listed host.
func checkURL(u *url.URL, allowedHosts []string) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("capture: %s: only http and https URLs are allowed", u.Redacted())
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("capture: %s: no host", u.Redacted())
	}
	if isLoopback(host) {
		return nil
	}
	for _, a := range allowedHosts {
		if strings.EqualFold(a, host) || strings.EqualFold(a, u.Host) {
			return nil
		}
	}
	return fmt.Errorf("capture: %s: host %s is not loopback and not allowed (add it with --allow-host)", u.Redacted(), host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PprofURL returns the URL of one net/http/pprof endpoint (kind "mutex",
// "block", "trace", ...) given a base: a server root
// (http://127.0.0.1:6060), its /debug/pprof/ page, or any endpoint below it.
func PprofURL(base, kind string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("capture: bad URL %q: %w", base, err)
	}
	p := strings.TrimSuffix(u.Path, "/")
	switch {
	case p == "":
		p = "/debug/pprof/" + kind
	case strings.HasSuffix(p, "/debug/pprof"):
		p += "/" + kind
	case strings.Contains(p, "/debug/pprof/"):
		p = p[:strings.LastIndex(p, "/")+1] + kind
	default:
		p += "/debug/pprof/" + kind
	}
	u.Path = p
	u.RawQuery = ""
	return u.String(), nil
}

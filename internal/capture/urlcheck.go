package capture

import (
	"fmt"
	"net/url"
)

// CheckURL checks a net/http/pprof URL the way FetchURL will, without
// asking it anything: a URL that would be refused (a scheme other than
// http(s), a host that is neither loopback nor allowed) is a usage error,
// which the CLI reports once, before anything runs.
func CheckURL(rawURL string, allowedHosts []string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("capture: bad URL %q: %w", rawURL, err)
	}
	return checkURL(u, allowedHosts)
}

package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
)

// maxDownload bounds a catalog file held in memory; SkyPilot's largest (Azure's vms.csv) is tens of MB.
const maxDownload = 512 << 20

// errNotFound marks an HTTP 404; it wraps fs.ErrNotExist, as Source.ReadFile promises for an absent file.
var errNotFound = fmt.Errorf("not in the hosted catalog: %w", fs.ErrNotExist)

// statusError is an HTTP answer other than 200.
type statusError struct {
	URL  string
	Code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

func (e *statusError) Unwrap() error {
	if e.Code == http.StatusNotFound {
		return errNotFound
	}
	return nil
}

// download fetches name from the base URL (the mirror on HTTP 429) and checks that it parses, so a truncated
// or garbage answer (a captive portal's page, a cut connection) never replaces a good copy. It returns the URL
// the bytes came from.
func (c *Cache) download(ctx context.Context, name string) ([]byte, string, error) {
	timeout := c.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := c.URL(name)
	data, err := c.get(ctx, url)
	var se *statusError
	if errors.As(err, &se) && se.Code == http.StatusTooManyRequests && c.MirrorURL != "" {
		url = joinURL(c.MirrorURL, name)
		data, err = c.get(ctx, url)
	}
	if err != nil {
		return nil, url, err
	}
	if err := validateDownload(url, name, data); err != nil {
		return nil, url, fmt.Errorf("downloaded file is not a valid catalog: %w", err)
	}
	return data, url, nil
}

func (c *Cache) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("catalog URL %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "stix")
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err // *url.Error names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{URL: url, Code: resp.StatusCode}
	}
	// A body shorter than its Content-Length fails here with io.ErrUnexpectedEOF.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if len(data) > maxDownload {
		return nil, fmt.Errorf("GET %s: larger than %d MiB", url, maxDownload>>20)
	}
	return data, nil
}

// validateDownload parses a known catalog file with the parser Load uses; other files pass as they are.
func validateDownload(url, name string, data []byte) error {
	var err error
	switch {
	case name == acceleratorsFile:
		_, err = parseAccelerators(url, string(data))
	case path.Base(name) == vmsFile:
		_, _, err = parseVMS(url, string(data))
	case path.Base(name) == imagesFile:
		_, err = parseImages(url, string(data))
	}
	return err
}

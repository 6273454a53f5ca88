package storage

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the HTTP client the store clients use by default: enough idle connections per host for
// parallel transfers, and bounds on connecting and on waiting for an answer's headers but none on the whole
// exchange (a body may stream for long; the context ends it).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// MaxAttempts is how many times the clients send a request that failed in a way worth retrying (no answer, a 5xx,
// 429 or the store's "slow down").
const MaxAttempts = 5

// RetryWait waits before attempt (1, 2, ...) of a request: exponential with jitter, at most 3 s, cut short by ctx.
func RetryWait(ctx context.Context, attempt int) error {
	d := min(100*time.Millisecond<<attempt, 3*time.Second)
	d = d/2 + rand.N(d/2)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewRequest is a store request whose body, when body is not nil, is size bytes that body() gives again for each
// attempt (GetBody: redirects and retries resend it); header is copied as given (canonical keys or not).
func NewRequest(ctx context.Context, method, url string, header http.Header, body func() io.Reader, size int64) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = body()
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body()), nil }
	}
	return req, nil
}

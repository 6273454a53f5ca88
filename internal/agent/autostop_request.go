package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/atomicfile"
)

// ExitRequest: autodown on clouds where a node cannot end its own billing (Lambda, RunPod). The client gives
// the head, with the autostop setting, the requests that terminate the cluster through the cloud's API (with
// the user's API key, as SkyPilot copies credentials to such clusters; or, on Azure, with a token the head gets
// from the instance metadata service for the cluster's managed identity: TokenURL); the head keeps them owner-only in
// ExitRequestsFile and sends them once autostop has ended the jobs and the workers. Nothing logs their headers
// or bodies.

// exitRequestTries is how many times a request is sent before the agent gives up; exitRequestTimeout bounds
// each try.
const (
	exitRequestTries   = 4
	exitRequestTimeout = 30 * time.Second
)

// keepExitRequests stores or removes the head's exit requests as req says, and refuses an autostop with
// ExitRequest that would have nothing to send. cfg is the setting req leads to.
func (a *agent) keepExitRequests(req AutostopRequest, cfg AutostopConfig) error {
	path := filepath.Join(a.dir, ExitRequestsFile)
	if req.Cancel {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the autostop requests: %w", err)
		}
		return nil
	}
	if len(req.Requests) > 0 {
		for i, r := range req.Requests {
			if err := validHTTPRequest(r); err != nil {
				return fmt.Errorf("%w: autostop request %d: %v", ErrInvalid, i, err)
			}
		}
		data, err := json.Marshal(req.Requests)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(path, data, 0o600); err != nil {
			return fmt.Errorf("save the autostop requests: %w", err)
		}
		return nil
	}
	if cfg.Exit == ExitRequest && cfg.IdleMinutes >= 0 {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: exit %q needs the requests that end the cluster, and none were given", ErrInvalid, ExitRequest)
		}
	}
	return nil
}

func validHTTPRequest(r HTTPRequest) error {
	if r.Method == "" || strings.ContainsAny(r.Method, " \t\r\n") {
		return fmt.Errorf("method %q", r.Method)
	}
	urls := []string{r.URL}
	if r.TokenURL != "" {
		urls = append(urls, r.TokenURL)
	}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("url %q: want an absolute http or https URL", redactURL(s))
		}
	}
	if r.RootCAs != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(r.RootCAs)) {
		return errors.New("root_cas: no PEM certificate")
	}
	return nil
}

// clientFor is the client for r: the shared one, or one that also trusts r.RootCAs.
func clientFor(shared *http.Client, r HTTPRequest) *http.Client {
	if r.RootCAs == "" {
		return shared
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM([]byte(r.RootCAs))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: shared.Timeout, Transport: tr}
}

// bearer gets an access token from r.TokenURL, as a VM gets one for its managed identity from Azure's instance
// metadata service.
func bearer(ctx context.Context, client *http.Client, tokenURL string) (retry bool, token string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tokenURL, nil)
	if err != nil {
		return false, "", err
	}
	req.Header.Set("Metadata", "true")
	resp, err := client.Do(req)
	if err != nil {
		return true, "", fmt.Errorf("get a token from %s: %v", redactURL(tokenURL), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusNotFound
		return retry, "", fmt.Errorf("get a token from %s: HTTP %d: %s", redactURL(tokenURL), resp.StatusCode, bytes.TrimSpace(body[:min(len(body), 512)]))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		return false, "", fmt.Errorf("get a token from %s: the answer has no access_token", redactURL(tokenURL))
	}
	return false, tok.AccessToken, nil
}

// sendExitRequests sends the requests the head keeps (none on a worker), each retried with backoff; a request
// that still fails is logged and the others are sent all the same. It returns the failures.
func (a *agent) sendExitRequests(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(a.dir, ExitRequestsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the autostop requests: %w", err)
	}
	var reqs []HTTPRequest
	if err := json.Unmarshal(data, &reqs); err != nil {
		return fmt.Errorf("read the autostop requests: %w", err)
	}
	backoff := a.exitBackoff
	if backoff <= 0 {
		backoff = time.Second
	}
	client := &http.Client{Timeout: exitRequestTimeout}
	var errs []error
	for _, r := range reqs {
		if err := sendWithRetry(ctx, clientFor(client, r), r, backoff); err != nil {
			a.log.Error("autostop: the request that ends the cluster failed", "method", r.Method, "url", redactURL(r.URL), "err", err)
			errs = append(errs, err)
			continue
		}
		a.log.Info("autostop: the cloud accepted the request that ends the cluster", "method", r.Method, "url", redactURL(r.URL))
	}
	return errors.Join(errs...)
}

// sendWithRetry sends r until it succeeds (2xx), the server refuses it for good (4xx other than 408 and 429),
// or exitRequestTries tries have failed, waiting backoff, then twice as long, between tries.
func sendWithRetry(ctx context.Context, client *http.Client, r HTTPRequest, backoff time.Duration) error {
	var last error
	for try := 1; try <= exitRequestTries; try++ {
		retry, err := sendOnce(ctx, client, r)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("try %d of %d: %w", try, exitRequestTries, err)
		if !retry || try == exitRequestTries {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(last, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return last
}

func sendOnce(ctx context.Context, client *http.Client, r HTTPRequest) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, strings.NewReader(r.Body))
	if err != nil {
		return false, err
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	if r.TokenURL != "" {
		retry, tok, err := bearer(ctx, client, r.TokenURL)
		if err != nil {
			return retry, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL, which carries no secret (redactURL drops a userinfo part that might).
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return true, fmt.Errorf("%s %s: %w", r.Method, redactURL(r.URL), uerr.Err)
		}
		return true, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
	return retry, fmt.Errorf("%s %s: HTTP %d: %s", r.Method, redactURL(r.URL), resp.StatusCode, bytes.TrimSpace(body))
}

// redactURL is the URL without user information or query, for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(malformed URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// Package dockerapi is stix's client of the Docker Engine API: the few calls the Docker provider and transport make
// (ping; create, inspect, list, start, stop and remove containers; exec with an attached stream; copy a tar in;
// inspect, import and remove images; create, inspect and remove networks), over the engine's socket.
//
// It replaces the Docker SDK on the CLI path: the SDK links image-reference and digest grammars and OpenTelemetry,
// whose package inits every stix command paid for, though most never talk to Docker. The engine's API is a small,
// stable, versioned HTTP API; the calls here send what the SDK sends for the same options, and the package's tests
// run against the real engine.
package dockerapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultHost is the engine's socket when DOCKER_HOST is not set.
const DefaultHost = "unix:///var/run/docker.sock"

// maxAPIVersion is the newest API version this client speaks; it uses the engine's when that is older.
const maxAPIVersion = "1.47"

// Client talks to one Docker Engine. It is safe for concurrent use.
type Client struct {
	host     string // as given: unix:///path or tcp://host:port
	base     string // URL prefix of requests: http://docker or http(s)://host:port
	dial     func(ctx context.Context) (net.Conn, error)
	tls      *tls.Config
	http     *http.Client
	pinned   string // DOCKER_API_VERSION, when set
	versionM sync.Mutex
	version  string // negotiated on first use
}

// FromEnv returns a client of the engine the environment names, as the docker CLI reads it: DOCKER_HOST
// (unix:// or tcp://; the local socket by default), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (ca.pem, cert.pem,
// key.pem) for TLS, DOCKER_API_VERSION to pin the API version. It does not contact the engine.
func FromEnv() (*Client, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = DefaultHost
	}
	var tc *tls.Config
	if certs := os.Getenv("DOCKER_CERT_PATH"); certs != "" {
		var err error
		if tc, err = tlsConfig(certs, os.Getenv("DOCKER_TLS_VERIFY") != ""); err != nil {
			return nil, err
		}
	}
	c, err := New(host, tc)
	if err != nil {
		return nil, err
	}
	c.pinned = os.Getenv("DOCKER_API_VERSION")
	return c, nil
}

// New returns a client of the engine at host (unix:///path or tcp://host:port), with TLS when tc is not nil. It
// does not contact the engine.
func New(host string, tc *tls.Config) (*Client, error) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("docker host %q: want unix:///path/to/socket or tcp://host:port", host)
	}
	c := &Client{host: host, tls: tc}
	var d net.Dialer
	switch u.Scheme {
	case "unix":
		sock := u.Path
		if sock == "" {
			return nil, fmt.Errorf("docker host %q: no socket path", host)
		}
		c.base = "http://docker"
		c.dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "unix", sock) }
	case "tcp", "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("docker host %q: no address", host)
		}
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "2375")
			if tc != nil {
				addr = net.JoinHostPort(u.Hostname(), "2376")
			}
		}
		c.base = "http://" + addr
		if tc != nil {
			c.base = "https://" + addr
		}
		c.dial = func(ctx context.Context) (net.Conn, error) {
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err != nil || tc == nil {
				return conn, err
			}
			cfg := tc.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = u.Hostname()
			}
			tconn := tls.Client(conn, cfg)
			if err := tconn.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, err
			}
			return tconn, nil
		}
	default:
		return nil, fmt.Errorf("docker host %q: unsupported scheme %q (unix:// or tcp://)", host, u.Scheme)
	}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext:    func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) },
		// Parallel node calls (one per container of a cluster) keep their connections for the next call; the
		// default of 2 idle connections per host made most of them dial again.
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}}
	return c, nil
}

// tlsConfig loads the client certificate and CA of DOCKER_CERT_PATH.
func tlsConfig(dir string, verify bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("docker TLS (DOCKER_CERT_PATH=%s): %w", dir, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verify}
	if verify {
		ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		if err != nil {
			return nil, fmt.Errorf("docker TLS (DOCKER_CERT_PATH=%s): %w", dir, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("docker TLS: %s holds no certificate", filepath.Join(dir, "ca.pem"))
		}
	}
	return tc, nil
}

// Host returns the engine address the client was made for.
func (c *Client) Host() string { return c.host }

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Error is an error response of the engine.
type Error struct {
	StatusCode int
	Message    string
}

func (e *Error) Error() string { return "Error response from daemon: " + e.Message }

// IsNotFound reports whether err is the engine's "no such object" (HTTP 404) answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// Ping checks that the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.ping(ctx)
	return err
}

// ping asks the engine for its API version.
func (c *Client) ping(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/_ping", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", c.connectError(err)
	}
	defer resp.Body.Close()
	if err := responseError(resp); err != nil {
		return "", err
	}
	return resp.Header.Get("Api-Version"), nil
}

func (c *Client) connectError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("cannot connect to the Docker daemon at %s (is it running?): %w", c.host, err)
}

// apiVersion is the version prefix of requests: DOCKER_API_VERSION, else the older of the engine's and this
// client's, asked once.
func (c *Client) apiVersion(ctx context.Context) (string, error) {
	if c.pinned != "" {
		return c.pinned, nil
	}
	c.versionM.Lock()
	defer c.versionM.Unlock()
	if c.version != "" {
		return c.version, nil
	}
	v, err := c.ping(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case v == "":
		v = "1.24" // engines that do not say are older than the header
	case versionLess(maxAPIVersion, v):
		v = maxAPIVersion
	}
	c.version = v
	return v, nil
}

// versionLess compares API versions ("1.41" < "1.47").
func versionLess(a, b string) bool {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	ai, _ := strconv.Atoi(am)
	bi, _ := strconv.Atoi(bm)
	if ai != bi {
		return ai < bi
	}
	aj, _ := strconv.Atoi(an)
	bj, _ := strconv.Atoi(bn)
	return aj < bj
}

// newRequest builds a versioned API request. body is JSON-encoded unless it is an io.Reader or nil.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	v, err := c.apiVersion(ctx)
	if err != nil {
		return nil, err
	}
	u := c.base + "/v" + v + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var r io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r, contentType = b, "application/x-tar"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		r, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// do sends a request and returns the response, whose body the caller closes, or the engine's error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connectError(err)
	}
	if err := responseError(resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// call sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("docker %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// responseError turns a 4xx/5xx answer into an *Error with the engine's message.
func responseError(resp *http.Response) error {
	if resp.StatusCode < http.StatusBadRequest {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if msg == "" {
		msg = resp.Status
	}
	return &Error{StatusCode: resp.StatusCode, Message: msg}
}

// pathEscape escapes a name or ID for a request path, keeping the slashes of image references ("stix/node:v1"),
// which the engine's routes take as they are.
func pathEscape(s string) string { return (&url.URL{Path: s}).EscapedPath() }

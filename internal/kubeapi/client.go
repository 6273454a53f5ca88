package kubeapi

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
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Client talks to one context's API server. It is safe for concurrent use.
type Client struct {
	// Context is the kubeconfig context's name; Namespace its namespace ("default" when it names none).
	Context   string
	Namespace string
	base      *url.URL
	tls       *tls.Config
	http      *http.Client
	auth      func(ctx context.Context) (header string, err error)
}

// NewClient returns the client of the named context ("" for the current one). It reads the files the context
// names (CA, client certificate, token file) but does not contact the server.
func (kc *Kubeconfig) NewClient(name string) (*Client, error) {
	name, kctx, err := kc.Resolve(name)
	if err != nil {
		return nil, err
	}
	cl, ok := kc.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s: context %s names cluster %q, which it does not define", kc.where(), name, kctx.Cluster)
	}
	u, err := url.Parse(cl.Server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("kubeconfig %s: cluster %s has server %q, which is not an http(s) URL", kc.where(), kctx.Cluster, cl.Server)
	}
	tc := &tls.Config{ServerName: cl.TLSServerName, InsecureSkipVerify: cl.InsecureSkipTLSVerify, MinVersion: tls.VersionTLS12}
	ca, err := fileOrData("certificate-authority", cl.dir, cl.CertificateAuthority, cl.CertificateAuthorityData)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: cluster %s: %w", kc.where(), kctx.Cluster, err)
	}
	if len(ca) > 0 && !cl.InsecureSkipTLSVerify {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("kubeconfig %s: cluster %s: certificate-authority holds no PEM certificate", kc.where(), kctx.Cluster)
		}
		tc.RootCAs = pool
	}
	c := &Client{Context: name, Namespace: kctx.Namespace, base: u, tls: tc}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	usr, ok := kc.Users[kctx.User]
	if !ok && kctx.User != "" {
		return nil, fmt.Errorf("kubeconfig %s: context %s names user %q, which it does not define", kc.where(), name, kctx.User)
	}
	if err := c.setAuth(usr); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: user %s: %w", kc.where(), kctx.User, err)
	}
	tr := &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
	if cl.ProxyURL != "" {
		pu, err := url.Parse(cl.ProxyURL)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: cluster %s: proxy-url: %v", kc.where(), kctx.Cluster, err)
		}
		tr.Proxy = http.ProxyURL(pu)
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

func (c *Client) setAuth(u User) error {
	switch {
	case u.AuthProvider != nil:
		return fmt.Errorf("auth-provider %q is not supported (client-go removed auth providers too): use an exec credential plugin such as gke-gcloud-auth-plugin or kubelogin", u.AuthProvider.Name)
	case u.ClientCertificate != "" || u.ClientCertificateData != "":
		cert, err := fileOrData("client-certificate", u.dir, u.ClientCertificate, u.ClientCertificateData)
		if err != nil {
			return err
		}
		key, err := fileOrData("client-key", u.dir, u.ClientKey, u.ClientKeyData)
		if err != nil {
			return err
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("client certificate and key: %v", err)
		}
		c.tls.Certificates = []tls.Certificate{pair}
	}
	switch {
	case u.Token != "":
		h := "Bearer " + u.Token
		c.auth = func(context.Context) (string, error) { return h, nil }
	case u.TokenFile != "":
		// Re-read on use: projected service-account tokens rotate.
		p := resolve(u.dir, u.TokenFile)
		c.auth = func(context.Context) (string, error) {
			b, err := os.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("tokenFile: %w", err)
			}
			return "Bearer " + strings.TrimSpace(string(b)), nil
		}
	case u.Username != "":
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(u.Username, u.Password)
		h := req.Header.Get("Authorization")
		c.auth = func(context.Context) (string, error) { return h, nil }
	case u.Exec != nil:
		c.auth = execAuth(u.Exec)
	}
	return nil
}

// execAuth runs a credential plugin and caches its token until it expires.
func execAuth(p *ExecPlugin) func(ctx context.Context) (string, error) {
	var mu sync.Mutex
	var token string
	var expires time.Time
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if token != "" && (expires.IsZero() || time.Until(expires) > 30*time.Second) {
			return "Bearer " + token, nil
		}
		cmd := exec.CommandContext(ctx, p.Command, p.Args...)
		if strings.ContainsRune(p.Command, '/') {
			cmd.Path = resolve(p.dir, p.Command)
		}
		cmd.Env = os.Environ()
		for _, e := range p.Env {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
		apiVersion := p.APIVersion
		if apiVersion == "" {
			apiVersion = "client.authentication.k8s.io/v1"
		}
		cmd.Env = append(cmd.Env, `KUBERNETES_EXEC_INFO={"apiVersion":"`+apiVersion+`","kind":"ExecCredential","spec":{"interactive":false}}`)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("credential plugin %s: %v: %s", p.Command, err, strings.TrimSpace(stderr.String()))
		}
		var cred struct {
			Status struct {
				Token               string    `json:"token"`
				ExpirationTimestamp time.Time `json:"expirationTimestamp"`
			} `json:"status"`
		}
		if err := json.Unmarshal(out, &cred); err != nil || cred.Status.Token == "" {
			return "", fmt.Errorf("credential plugin %s printed no ExecCredential with a token (client certificates from plugins are not supported)", p.Command)
		}
		token, expires = cred.Status.Token, cred.Status.ExpirationTimestamp
		return "Bearer " + token, nil
	}
}

// Server is the API server's URL.
func (c *Client) Server() string { return c.base.String() }

// StatusError is an error answer of the API server: its Status object.
type StatusError struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Method  string `json:"-"`
	Path    string `json:"-"`
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("%s %s: %s (%d %s)", e.Method, e.Path, msg, e.Code, e.Reason)
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool { return statusCode(err) == http.StatusNotFound }

// IsConflict reports whether err is the API's 409 (already exists, or a stale update).
func IsConflict(err error) bool { return statusCode(err) == http.StatusConflict }

// IsForbidden reports whether err is the API's 403.
func IsForbidden(err error) bool { return statusCode(err) == http.StatusForbidden }

// IsUnauthorized reports whether err is the API's 401.
func IsUnauthorized(err error) bool { return statusCode(err) == http.StatusUnauthorized }

func statusCode(err error) int {
	var s *StatusError
	if errors.As(err, &s) {
		return s.Code
	}
	return 0
}

// Do sends a request with a JSON body (nil: none) and decodes a JSON answer into out (nil: discarded). path is
// the API path ("/api/v1/namespaces/ns/pods"), with its query.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	ctype := "application/json"
	if body != nil {
		if raw, ok := body.(rawPatch); ok {
			rd, ctype = bytes.NewReader(raw.data), raw.ctype
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := c.request(ctx, method, path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s%s: %w", method, c.base.Host, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readStatus(resp, method, path)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// rawPatch is a body sent as it is, with its content type (merge patches).
type rawPatch struct {
	data  []byte
	ctype string
}

// MergePatch is a JSON merge patch body for Do.
func MergePatch(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return rawPatch{data: b, ctype: "application/merge-patch+json"}, nil
}

func (c *Client) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(c.base.Path, "/") + p
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "stix")
	if c.auth != nil {
		h, err := c.auth(ctx)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", h)
	}
	return req, nil
}

func readStatus(resp *http.Response, method, path string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	se := &StatusError{Method: method, Path: path}
	if json.Unmarshal(b, se) != nil || se.Code == 0 {
		se.Code, se.Message = resp.StatusCode, strings.TrimSpace(string(b))
	}
	se.Code = resp.StatusCode
	return se
}

// Get is Do with GET.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Create POSTs obj to the collection at path and decodes the created object into out.
func (c *Client) Create(ctx context.Context, path string, obj, out any) error {
	return c.Do(ctx, http.MethodPost, path, obj, out)
}

// Delete deletes the object at path (with background propagation); an object already gone is not an error.
func (c *Client) Delete(ctx context.Context, path string) error {
	err := c.Do(ctx, http.MethodDelete, path, map[string]any{"propagationPolicy": "Background"}, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// NSPath returns the path of a namespaced collection of the core API ("pods", "services") in ns, with the
// object's name when given.
func NSPath(ns, resource, name string) string {
	p := "/api/v1/namespaces/" + url.PathEscape(ns) + "/" + resource
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// Query adds query parameters to a path.
func Query(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return path + "?" + v.Encode()
}

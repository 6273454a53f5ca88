// Package gcs is a hand-written client of Google Cloud Storage's JSON API (storage/v1): buckets get, insert and
// delete; objects list, insert (multipart, or resumable for large objects), get and delete; errors typed as
// storage errors. Tokens come from package gcpauth (Application Default Credentials); with STORAGE_EMULATOR_HOST
// set, requests go to that emulator unauthenticated, as Google's client libraries do. No Google SDK: the node
// agent links it to copy buckets (docs/storage.md).
package gcs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/cloud/gcp/gcpauth"
	"github.com/stix-run/stix/internal/storage"
)

// EmulatorHostEnv names a GCS emulator (host:port, or a URL), as Google's client libraries read it.
const EmulatorHostEnv = "STORAGE_EMULATOR_HOST"

// DefaultEndpoint is Google's.
const DefaultEndpoint = "https://storage.googleapis.com"

// Defaults of Config.
const (
	DefaultChunkSize          = 16 << 20
	DefaultResumableThreshold = 64 << 20
	chunkQuantum              = 256 << 10 // a resumable upload's chunks are multiples of 256 KiB
)

// TokenSource gives OAuth 2.0 access tokens (gcpauth.TokenSource).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Config says where the client speaks and how.
type Config struct {
	// Endpoint is the API's root, without /storage/v1; empty means Google's.
	Endpoint string
	// Project owns the buckets CreateBucket makes; Location places them (empty: GCS's default, the US
	// multi-region).
	Project  string
	Location string
	// Tokens authenticate requests; nil sends none (an emulator).
	Tokens     TokenSource
	HTTPClient *http.Client
	// Objects of ResumableThreshold bytes or more are sent as a resumable upload in chunks of ChunkSize.
	ChunkSize          int64
	ResumableThreshold int64
	// PageSize is how many objects one objects.list page asks for (at most and by default 1000).
	PageSize int
}

// Client is a GCS client. It is safe for concurrent use.
type Client struct {
	cfg Config
}

var _ storage.Store = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gcs: endpoint %q is not a URL such as https://storage.googleapis.com", cfg.Endpoint)
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = storage.NewHTTPClient()
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.ChunkSize%chunkQuantum != 0 {
		return nil, fmt.Errorf("gcs: chunk size %d is not a multiple of 256 KiB", cfg.ChunkSize)
	}
	if cfg.ResumableThreshold == 0 {
		cfg.ResumableThreshold = DefaultResumableThreshold
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	return &Client{cfg: cfg}, nil
}

// FromEnv returns the configuration by the rules of Google's libraries: STORAGE_EMULATOR_HOST (no credentials;
// the project from GOOGLE_CLOUD_PROJECT, else "stix"), else Application Default Credentials and their project
// (gcpauth.Locate).
func FromEnv(e *credcheck.Env, httpClient *http.Client) (Config, error) {
	if host := e.Var(EmulatorHostEnv); host != "" {
		if !strings.Contains(host, "://") {
			host = "http://" + host
		}
		project := e.Var("GOOGLE_CLOUD_PROJECT")
		if project == "" {
			project = "stix"
		}
		return Config{Endpoint: host, Project: project, HTTPClient: httpClient}, nil
	}
	f, problem := gcpauth.Locate(e)
	if problem != "" {
		return Config{}, &storage.CredentialsError{Store: storage.GCS, Reason: problem}
	}
	if httpClient == nil {
		httpClient = storage.NewHTTPClient()
	}
	ts, err := gcpauth.NewTokenSource(f.Key, e.Show(f.KeyPath), e.Var(gcpauth.TokenURLEnv), httpClient)
	if err != nil {
		return Config{}, err
	}
	return Config{Project: f.Project, Tokens: ts, HTTPClient: httpClient}, nil
}

// Kind returns storage.GCS.
func (c *Client) Kind() storage.Kind { return storage.GCS }

// request is one API call.
type request struct {
	op, method string
	bucket     string
	key        string
	// url is the full URL (the API's or a resumable session's).
	url    string
	header http.Header
	body   func() io.Reader // opened afresh for every attempt; nil: none
	size   int64
	// objectOp makes a bare 404 ErrNoSuchKey.
	objectOp bool
	// ok lists non-2xx statuses that are answers, not errors (308 of a resumable upload).
	ok []int
}

// apiURL is the JSON API's URL of a path under storage/v1 (or upload/storage/v1 with upload) and a query.
func (c *Client) apiURL(upload bool, path string, q url.Values) string {
	u := c.cfg.Endpoint + "/storage/v1/" + path
	if upload {
		u = c.cfg.Endpoint + "/upload/storage/v1/" + path
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func bucketPath(bucket string) string { return "b/" + url.PathEscape(bucket) }
func objectPath(bucket, key string) string {
	return bucketPath(bucket) + "/o/" + url.PathEscape(key)
}

// do sends r, retrying what is worth retrying; it returns the answer (2xx, or a status in r.ok) or an error.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := storage.RetryWait(ctx, attempt); err != nil {
				return nil, fmt.Errorf("%w (after: %v)", err, last)
			}
		}
		resp, err := c.send(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var se *storage.Error
			if errors.As(err, &se) || errors.Is(err, storage.ErrAuth) {
				return nil, err // the token endpoint refused
			}
			last = fmt.Errorf("gcs %s: %w", r.op, err)
			if attempt < storage.MaxAttempts-1 {
				continue
			}
			return nil, last
		}
		if resp.StatusCode/100 == 2 || contains(r.ok, resp.StatusCode) {
			return resp, nil
		}
		e := errorOf(r, resp)
		last = e
		if (e.Status >= 500 || e.Status == http.StatusTooManyRequests) && attempt < storage.MaxAttempts-1 {
			continue
		}
		return nil, e
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (c *Client) send(ctx context.Context, r *request) (*http.Response, error) {
	req, err := storage.NewRequest(ctx, r.method, r.url, r.header, r.body, r.size)
	if err != nil {
		return nil, err
	}
	if c.cfg.Tokens != nil {
		tok, err := c.cfg.Tokens.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("gcs %s: %w: %w", r.op, storage.ErrAuth, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return c.cfg.HTTPClient.Do(req)
}

// doJSON sends r (with in as its JSON body when not nil) and decodes the answer into out (when not nil).
func (c *Client) doJSON(ctx context.Context, r *request, in, out any) error {
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body = func() io.Reader { return bytes.NewReader(data) }
		r.size = int64(len(data))
		if r.header == nil {
			r.header = http.Header{}
		}
		r.header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("gcs %s: malformed answer: %w", r.op, err)
	}
	return nil
}

// errorBody is the JSON API's error answer.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// errorOf reads and closes an error answer and classifies it.
func errorOf(r *request, resp *http.Response) *storage.Error {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &storage.Error{Store: storage.GCS, Op: r.op, Bucket: r.bucket, Key: r.key, Status: resp.StatusCode}
	var eb errorBody
	if json.Unmarshal(data, &eb) == nil && (eb.Error.Message != "" || eb.Error.Code != 0) {
		e.Message = eb.Error.Message
		if len(eb.Error.Errors) > 0 {
			e.Code = eb.Error.Errors[0].Reason
		}
	} else {
		e.Message = strings.TrimSpace(string(data[:min(len(data), 200)]))
	}
	msg := strings.ToLower(e.Message)
	switch resp.StatusCode {
	case http.StatusNotFound:
		switch {
		case strings.Contains(msg, "no such object") || strings.Contains(msg, "object not found"):
			e.Kind = storage.ErrNoSuchKey
		case strings.Contains(msg, "bucket"):
			e.Kind = storage.ErrNoSuchBucket
		case r.objectOp:
			e.Kind = storage.ErrNoSuchKey
		default:
			e.Kind = storage.ErrNoSuchBucket
		}
	case http.StatusConflict, http.StatusPreconditionFailed:
		// GCS says 409 "The bucket you tried to delete is not empty", fake-gcs-server 412 "bucket must be empty".
		switch {
		case strings.Contains(msg, "not empty") || strings.Contains(msg, "must be empty"):
			e.Kind = storage.ErrBucketNotEmpty
		case strings.Contains(msg, "already own"):
			e.Kind = storage.ErrBucketOwnedByYou
		case strings.Contains(msg, "not available"):
			e.Kind = storage.ErrBucketTaken
		}
	case http.StatusUnauthorized:
		e.Kind = storage.ErrAuth
	case http.StatusForbidden:
		e.Kind = storage.ErrAccessDenied
	}
	return e
}

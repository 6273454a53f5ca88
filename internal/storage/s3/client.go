// Package s3 is a hand-written client of the S3 REST API (AWS S3, Cloudflare R2, MinIO and other S3-compatible
// stores): Signature V4, path-style or virtual-hosted addressing, the bucket and object operations package storage
// needs, multipart uploads with parts in parallel, and S3's XML errors typed as storage errors. No AWS SDK: the
// node agent links it to copy buckets, and the CLI's start-up budget has no room for one (docs/storage.md).
package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/storage"
)

// Credentials sign requests. An empty AccessKeyID sends requests unsigned (public buckets).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Source says where they were found, for messages ("environment", "profile default in ~/.aws/credentials").
	Source string
}

// CredentialsProvider returns the credentials to sign with; it is asked before every request, so that it may
// refresh expiring ones.
type CredentialsProvider interface {
	Retrieve(ctx context.Context) (Credentials, error)
}

// Static is a CredentialsProvider of fixed credentials.
type Static Credentials

// Retrieve returns the credentials.
func (s Static) Retrieve(context.Context) (Credentials, error) { return Credentials(s), nil }

// Defaults of Config.
const (
	DefaultPartSize           = 16 << 20
	DefaultMultipartThreshold = 64 << 20
	DefaultPartConcurrency    = 4
	// MinPartSize is S3's smallest part but the last; maxParts its most parts of one upload.
	MinPartSize = 5 << 20
	maxParts    = 10000
)

// Config says which store the client speaks to and how.
type Config struct {
	// Kind is storage.S3 or storage.R2 (errors and messages name it); empty means S3.
	Kind     storage.Kind
	Endpoint storage.Endpoint
	// Credentials sign the requests; nil sends them unsigned.
	Credentials CredentialsProvider
	HTTPClient  *http.Client
	// PartSize is the size of a multipart upload's parts (at least MinPartSize; raised for objects that would
	// need more than 10,000 parts); objects of MultipartThreshold bytes or more are uploaded in parts,
	// PartConcurrency at a time.
	PartSize           int64
	MultipartThreshold int64
	PartConcurrency    int
	// PageSize is how many objects one ListObjectsV2 page asks for (at most and by default 1000).
	PageSize int
	// Now is the clock requests are signed with.
	Now func() time.Time
}

// Client is an S3 client. It is safe for concurrent use.
type Client struct {
	cfg       Config
	base      *url.URL
	aws       bool // AWS's own endpoint: the host follows the region
	pathStyle bool

	regions sync.Map // bucket -> region AWS redirected stix to
}

var _ storage.Store = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Kind == "" {
		cfg.Kind = storage.S3
	}
	if cfg.Endpoint.Region == "" {
		cfg.Endpoint.Region = "us-east-1"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = storage.NewHTTPClient()
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of 5 MiB", cfg.PartSize)
	}
	if cfg.MultipartThreshold == 0 {
		cfg.MultipartThreshold = DefaultMultipartThreshold
	}
	if cfg.PartConcurrency <= 0 {
		cfg.PartConcurrency = DefaultPartConcurrency
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, pathStyle: cfg.Endpoint.PathStyle}
	raw := cfg.Endpoint.URL
	if raw == "" {
		c.aws = true
		raw = "https://" + awsHost(cfg.Endpoint.Region)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("s3: endpoint %q is not a URL such as https://s3.example.com or http://127.0.0.1:9000", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c.base = u
	if host := u.Hostname(); host == "localhost" || strings.HasSuffix(host, ".localhost") {
		c.pathStyle = true
	} else if _, err := netip.ParseAddr(host); err == nil {
		c.pathStyle = true
	}
	return c, nil
}

// PathStyle reports whether the client puts the bucket in the path: configured so, or an endpoint that is an IP
// address or localhost. A node reaching the same endpoint must address it the same way.
func (c *Client) PathStyle() bool { return c.pathStyle }

// awsHost is AWS S3's regional endpoint.
func awsHost(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "s3." + region + ".amazonaws.com.cn"
	}
	return "s3." + region + ".amazonaws.com"
}

// Kind returns storage.S3 or storage.R2.
func (c *Client) Kind() storage.Kind { return c.cfg.Kind }

// Region returns the region requests are signed for (the endpoint's, unless AWS redirected a bucket elsewhere).
func (c *Client) Region(bucket string) string {
	if r, ok := c.regions.Load(bucket); ok {
		return r.(string)
	}
	return c.cfg.Endpoint.Region
}

// request is one S3 call.
type request struct {
	op     string // for errors: "create bucket", "put" ...
	method string
	bucket string
	key    string
	query  map[string]string
	header http.Header
	// body opens the request's body afresh for every attempt (nil: none); size is its length.
	body func() io.Reader
	size int64
	// payloadHash is the body's hex SHA-256, or unsignedPayload; empty means no body.
	payloadHash string
	// objectOp makes a bare 404 NoSuchKey rather than NoSuchBucket.
	objectOp bool
}

// target returns the URL and the canonical path of r.
func (c *Client) target(r *request, region string) (*url.URL, string) {
	u := *c.base
	host := u.Host
	if c.aws && region != c.cfg.Endpoint.Region {
		host = awsHost(region)
	}
	path := u.Path
	// A dotted bucket name in the host name breaks TLS's wildcard match: S3 itself says to use path style.
	virtual := !c.pathStyle && r.bucket != "" && !(u.Scheme == "https" && strings.Contains(r.bucket, "."))
	if r.bucket != "" {
		if virtual {
			host = r.bucket + "." + host
		} else {
			path += "/" + r.bucket
		}
	}
	if r.key != "" {
		path += "/" + r.key
	}
	if path == "" {
		path = "/"
	}
	canonical := escape(path, true)
	u.Host = host
	u.Path = path
	u.RawPath = canonical
	u.RawQuery = canonicalQuery(r.query)
	return &u, canonical
}

// do sends r, retrying what is worth retrying, and returns a 2xx response (whose body the caller closes) or an
// error: *storage.Error for an error answer.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	creds := Credentials{}
	if c.cfg.Credentials != nil {
		var err error
		if creds, err = c.cfg.Credentials.Retrieve(ctx); err != nil {
			return nil, err
		}
	}
	var last error
	redirected := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := storage.RetryWait(ctx, attempt); err != nil {
				return nil, fmt.Errorf("%w (after: %v)", err, last)
			}
		}
		region := c.Region(r.bucket)
		resp, err := c.send(ctx, r, creds, region)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last = fmt.Errorf("%s %s: %w", c.cfg.Kind, r.op, err)
			if attempt < storage.MaxAttempts-1 {
				continue
			}
			return nil, last
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		serr := c.errorOf(r, resp)
		// AWS answers a bucket of another region with its region: sign for it and ask again, once.
		if c.aws && !redirected && serr.region != "" && serr.region != region {
			c.regions.Store(r.bucket, serr.region)
			redirected = true
			attempt--
			continue
		}
		last = serr.err
		if serr.retry && attempt < storage.MaxAttempts-1 {
			continue
		}
		return nil, serr.err
	}
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, r *request, creds Credentials, region string) (*http.Response, error) {
	u, canonicalURI := c.target(r, region)
	req, err := storage.NewRequest(ctx, r.method, u.String(), r.header, r.body, r.size)
	if err != nil {
		return nil, err
	}
	payload := r.payloadHash
	if payload == "" {
		payload = emptySHA256
	}
	if creds.AccessKeyID != "" {
		sign(req, creds, region, canonicalURI, u.RawQuery, payload, c.cfg.Now())
	}
	return c.cfg.HTTPClient.Do(req)
}

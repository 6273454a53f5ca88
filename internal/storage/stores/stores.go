// Package stores opens the storage.Store of a kind (s3, gcs, r2) with credentials and endpoints found by each
// store's usual rules (docs/storage.md): what launch, `stix storage` and the node agent call rather than choosing
// a client themselves.
package stores

import (
	"fmt"
	"net/http"
	"os"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/gcs"
	"github.com/stix-run/stix/internal/storage/s3"
)

// Options are what Open may be given besides the kind.
type Options struct {
	// Env is where credentials and endpoints are looked for; nil: the process's environment and home.
	Env *credcheck.Env
	// Endpoint is stix's configured endpoint for an S3 store (the AWS variables win over it, as in the SDKs).
	Endpoint storage.Endpoint
	// PinEndpoint makes Endpoint win over the AWS variables too: a recorded bucket's endpoint, where the bucket is
	// whatever the caller's defaults are.
	PinEndpoint bool
	// S3Credentials, when not nil, replaces the credentials the S3 client finds itself (the CLI may hand in the
	// AWS SDK's chain, for SSO and roles).
	S3Credentials s3.CredentialsProvider
	// HTTPClient is shared by the clients; nil: storage.NewHTTPClient().
	HTTPClient *http.Client
}

// Opened is an open store and how it is reached: what a node needs to reach the same store (docs/storage-mounts.md).
type Opened struct {
	storage.Store
	// Endpoint is where the store answers: the S3 endpoint (empty: AWS's own), PathStyle as the client addresses
	// it; for GCS the API root and the location new buckets get.
	Endpoint storage.Endpoint
	// S3Credentials are an S3 or R2 store's credentials; GCSTokens a GCS store's tokens (nil for an emulator).
	S3Credentials s3.CredentialsProvider
	GCSTokens     gcs.TokenSource
}

// Open returns the store of kind. It makes no request: missing or refused credentials show on the first call.
func Open(kind storage.Kind, opts Options) (*Opened, error) {
	env := opts.Env
	if env == nil {
		home, _ := os.UserHomeDir()
		e := credcheck.Env{Home: home, Getenv: os.Getenv}.WithDefaults()
		env = &e
	}
	switch kind {
	case storage.S3, storage.R2:
		var cfg s3.Config
		var err error
		if kind == storage.R2 {
			cfg, err = s3.FromR2(env)
		} else {
			cfg, err = s3.FromEnv(env, opts.Endpoint)
			if opts.PinEndpoint && opts.Endpoint.URL != "" {
				region := cfg.Endpoint.Region
				cfg.Endpoint = opts.Endpoint
				if cfg.Endpoint.Region == "" {
					cfg.Endpoint.Region = region
				}
			}
			if opts.S3Credentials != nil {
				cfg.Credentials = opts.S3Credentials
			}
		}
		if err != nil {
			return nil, err
		}
		cfg.HTTPClient = opts.HTTPClient
		c, err := s3.New(cfg)
		if err != nil {
			return nil, err
		}
		ep := cfg.Endpoint
		ep.PathStyle = c.PathStyle()
		return &Opened{Store: c, Endpoint: ep, S3Credentials: cfg.Credentials}, nil
	case storage.GCS:
		cfg, err := gcs.FromEnv(env, opts.HTTPClient)
		if err != nil {
			return nil, err
		}
		c, err := gcs.New(cfg)
		if err != nil {
			return nil, err
		}
		return &Opened{Store: c, Endpoint: storage.Endpoint{URL: cfg.Endpoint, Region: cfg.Location}, GCSTokens: cfg.Tokens}, nil
	}
	return nil, fmt.Errorf("unknown store %q: use s3, gcs or r2", kind)
}

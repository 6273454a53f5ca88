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
	// S3Credentials, when not nil, replaces the credentials the S3 client finds itself (the CLI may hand in the
	// AWS SDK's chain, for SSO and roles).
	S3Credentials s3.CredentialsProvider
	// HTTPClient is shared by the clients; nil: storage.NewHTTPClient().
	HTTPClient *http.Client
}

// Open returns the store of kind. It makes no request: missing or refused credentials show on the first call.
func Open(kind storage.Kind, opts Options) (storage.Store, error) {
	env := opts.Env
	if env == nil {
		home, _ := os.UserHomeDir()
		e := credcheck.Env{Home: home, Getenv: os.Getenv}.WithDefaults()
		env = &e
	}
	switch kind {
	case storage.S3:
		cfg, err := s3.FromEnv(env, opts.Endpoint)
		if err != nil {
			return nil, err
		}
		if opts.S3Credentials != nil {
			cfg.Credentials = opts.S3Credentials
		}
		cfg.HTTPClient = opts.HTTPClient
		return s3.New(cfg)
	case storage.R2:
		cfg, err := s3.FromR2(env)
		if err != nil {
			return nil, err
		}
		cfg.HTTPClient = opts.HTTPClient
		return s3.New(cfg)
	case storage.GCS:
		cfg, err := gcs.FromEnv(env, opts.HTTPClient)
		if err != nil {
			return nil, err
		}
		return gcs.New(cfg)
	}
	return nil, fmt.Errorf("unknown store %q: use s3, gcs or r2", kind)
}

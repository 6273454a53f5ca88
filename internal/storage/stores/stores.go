// Package stores opens the storage.Store of a kind (s3, gcs, r2) with credentials and endpoints found by each
// store's usual rules (docs/storage.md): what launch, `stix storage` and the node agent call rather than choosing
// a client themselves.
package stores

import (
	"context"
	"errors"
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
	// S3Credentials, when not nil, replaces the credentials the S3 client finds itself.
	S3Credentials s3.CredentialsProvider
	// S3CredentialChain, when not nil, gives the S3 credentials that stix's own reading of Env (access keys in
	// the AWS variables or the profile's files, s3.FromEnv) does not find: the AWS SDK's chain, with SSO,
	// assumed roles, credential_process and instance roles (aws.StorageCredentials; the CLI and the API server
	// set it, the node agent, which links no SDK, cannot). It is called only then, and its provider asked at the
	// first request; a failure says both what stix looked for and what the chain said.
	S3CredentialChain func(env *credcheck.Env) s3.CredentialsProvider
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
			switch {
			case opts.S3Credentials != nil:
				cfg.Credentials = opts.S3Credentials
			case opts.S3CredentialChain != nil && s3.Missing(cfg.Credentials):
				cfg.Credentials = chained{own: cfg.Credentials, chain: opts.S3CredentialChain(env)}
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

// chained asks the SDK's chain for the credentials stix's own reading did not find.
type chained struct{ own, chain s3.CredentialsProvider }

func (c chained) Retrieve(ctx context.Context) (s3.Credentials, error) {
	creds, err := c.chain.Retrieve(ctx)
	if err == nil {
		return creds, nil
	}
	_, ownErr := c.own.Retrieve(ctx)
	return s3.Credentials{}, &storage.CredentialsError{Store: storage.S3,
		Reason: fmt.Sprintf("%s; and the AWS SDK's chain found none: %s", reasonOf(ownErr), reasonOf(err))}
}

// reasonOf is a credentials error's reason, without the store's name.
func reasonOf(err error) string {
	var ce *storage.CredentialsError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return err.Error()
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/gcs"
	"github.com/stix-run/stix/internal/storage/s3"
)

// EnvBuckets returns Options.Buckets over the object stores reached as the clouds' own tools reach them (see
// internal/storage/s3 and gcs FromEnv: AWS variables and profiles, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, R2's
// credentials file, Application Default Credentials, STORAGE_EMULATOR_HOST), with the S3-compatible endpoint of
// the config's `storage.s3.endpoint_url` (docs/storage.md). Each store is opened on first use.
func EnvBuckets(env credcheck.Env) func(ctx context.Context) (Buckets, error) {
	return func(ctx context.Context) (Buckets, error) {
		ep := storage.Endpoint{}
		cfg := config.FromContext(ctx)
		if v, ok := cfg.Get("storage.s3.endpoint_url"); ok {
			ep.URL, _ = v.(string)
		}
		if v, ok := cfg.Get("storage.s3.region"); ok {
			ep.Region, _ = v.(string)
		}
		return &envBuckets{env: env, s3ep: ep, open: map[storage.Kind]*openStore{}}, nil
	}
}

// openStore is a store opened for one caller, and where it is reached.
type openStore struct {
	st     storage.Store
	ep     storage.Endpoint
	creds  s3.CredentialsProvider // S3 and R2
	tokens gcs.TokenSource        // GCS, nil for an emulator
}

// envBuckets implements Buckets over storage.Store clients made from env.
type envBuckets struct {
	env  credcheck.Env
	s3ep storage.Endpoint

	mu   sync.Mutex
	open map[storage.Kind]*openStore
}

func (b *envBuckets) store(kind string) (*openStore, error) {
	k, err := storage.ParseKind(kind)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if o := b.open[k]; o != nil {
		return o, nil
	}
	o := &openStore{}
	switch k {
	case storage.S3, storage.R2:
		var cfg s3.Config
		if k == storage.R2 {
			cfg, err = s3.FromR2(&b.env)
		} else {
			cfg, err = s3.FromEnv(&b.env, b.s3ep)
		}
		if err != nil {
			return nil, err
		}
		c, err := s3.New(cfg)
		if err != nil {
			return nil, err
		}
		o.st, o.ep, o.creds = c, cfg.Endpoint, cfg.Credentials
	case storage.GCS:
		cfg, err := gcs.FromEnv(&b.env, nil)
		if err != nil {
			return nil, err
		}
		c, err := gcs.New(cfg)
		if err != nil {
			return nil, err
		}
		o.st, o.ep, o.tokens = c, storage.Endpoint{URL: cfg.Endpoint, Region: cfg.Location}, cfg.Tokens
	default:
		return nil, fmt.Errorf("stix cannot reach %s buckets yet", kind)
	}
	b.open[k] = o
	return o, nil
}

func (b *envBuckets) Check(ctx context.Context, kind, bucket string) error {
	o, err := b.store(kind)
	if err != nil {
		return err
	}
	ok, err := o.st.BucketExists(ctx, bucket)
	if err == nil && !ok {
		return fmt.Errorf("%s://%s: %w", storeScheme(kind), bucket, ErrNoBucket)
	}
	return classify(err)
}

func (b *envBuckets) Create(ctx context.Context, kind, bucket string) error {
	o, err := b.store(kind)
	if err != nil {
		return err
	}
	if err := o.st.CreateBucket(ctx, bucket); err != nil && !errors.Is(err, storage.ErrBucketOwnedByYou) {
		return classify(err)
	}
	return nil
}

func (b *envBuckets) Upload(ctx context.Context, kind, bucket, prefix string, sources []string) (int, error) {
	o, err := b.store(kind)
	if err != nil {
		return 0, err
	}
	stats, err := storage.Upload(ctx, o.st, bucket, prefix, sources...)
	return stats.Transferred, classify(err)
}

func (b *envBuckets) Delete(ctx context.Context, kind, bucket string) error {
	o, err := b.store(kind)
	if err != nil {
		return err
	}
	return classify(o.st.DeleteBucket(ctx, bucket, true))
}

func (b *envBuckets) Endpoint(kind string) (string, string) {
	o, err := b.store(kind)
	if err != nil {
		return "", ""
	}
	return o.ep.URL, o.ep.Region
}

func (b *envBuckets) NodeAccess(ctx context.Context, kind string) (agent.Mount, error) {
	o, err := b.store(kind)
	if err != nil {
		return agent.Mount{}, err
	}
	m := agent.Mount{Store: kind, Endpoint: o.ep.URL, Region: o.ep.Region, PathStyle: o.ep.PathStyle || isIPEndpoint(o.ep.URL)}
	if kind == string(storage.GCS) {
		// The API root (an emulator's); Google's own is the agent's default.
		m.Endpoint, m.PathStyle = "", false
		if u := strings.TrimSuffix(o.ep.URL, "/"); u != "" && u != strings.TrimSuffix(gcs.DefaultEndpoint, "/") {
			m.Endpoint = u
		}
	}
	if o.creds != nil {
		c, err := o.creds.Retrieve(ctx)
		if err != nil {
			return m, err
		}
		m.Creds = agent.StoreCreds{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	}
	if o.tokens != nil {
		tok, err := o.tokens.Token(ctx)
		if err != nil {
			return m, err
		}
		m.Creds = agent.StoreCreds{GCSAccessToken: tok}
	}
	return m, nil
}

// isIPEndpoint reports an endpoint whose host is an IP address or localhost: S3 addresses its buckets by path.
func isIPEndpoint(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	_, err = netip.ParseAddr(h)
	return err == nil
}

// classify adds the lifecycle's kinds to a store's error: a missing bucket (ErrNoBucket), a name another
// account holds or these credentials may not use (ErrBucketTaken).
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNoSuchBucket):
		return fmt.Errorf("%w: %w", ErrNoBucket, err)
	case errors.Is(err, storage.ErrBucketTaken), errors.Is(err, storage.ErrAccessDenied):
		return fmt.Errorf("%w: %w", ErrBucketTaken, err)
	}
	return err
}

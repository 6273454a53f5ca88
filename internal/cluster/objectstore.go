package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/gcs"
	"github.com/stix-run/stix/internal/storage/s3"
	"github.com/stix-run/stix/internal/storage/stores"
)

// EnvBuckets returns Options.Buckets over the object stores reached as the clouds' own tools reach them (see
// internal/storage/s3 and gcs FromEnv: AWS variables and profiles, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, R2's
// credentials file, Application Default Credentials, STORAGE_EMULATOR_HOST), with the S3-compatible endpoint of
// the config's `storage.s3.endpoint_url` (docs/storage.md). S3 credentials that are no access keys (SSO, roles,
// credential_process) come from s3Chain where it is given (stores.Options.S3CredentialChain: the AWS SDK's chain,
// aws.StorageCredentials). Each store is opened on first use.
func EnvBuckets(env credcheck.Env, s3Chain func(*credcheck.Env) s3.CredentialsProvider) func(ctx context.Context) (Buckets, error) {
	return func(ctx context.Context) (Buckets, error) {
		ep := storage.Endpoint{}
		cfg := config.FromContext(ctx)
		if v, ok := cfg.Get("storage.s3.endpoint_url"); ok {
			ep.URL, _ = v.(string)
		}
		if v, ok := cfg.Get("storage.s3.region"); ok {
			ep.Region, _ = v.(string)
		}
		return &envBuckets{env: env, s3ep: ep, s3Chain: s3Chain, open: map[storage.Kind]*stores.Opened{}}, nil
	}
}

// envBuckets implements Buckets over the stores opened from env.
type envBuckets struct {
	env     credcheck.Env
	s3ep    storage.Endpoint
	s3Chain func(*credcheck.Env) s3.CredentialsProvider

	mu   sync.Mutex
	open map[storage.Kind]*stores.Opened
}

func (b *envBuckets) store(kind string) (*stores.Opened, error) {
	k, err := storage.ParseKind(kind)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if o := b.open[k]; o != nil {
		return o, nil
	}
	o, err := stores.Open(k, stores.Options{Env: &b.env, Endpoint: b.s3ep, S3CredentialChain: b.s3Chain})
	if err != nil {
		return nil, err
	}
	b.open[k] = o
	return o, nil
}

func (b *envBuckets) Check(ctx context.Context, kind, bucket string) error {
	o, err := b.store(kind)
	if err != nil {
		return err
	}
	ok, err := o.Store.BucketExists(ctx, bucket)
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
	if err := storage.MakeBucket(ctx, o.Store, bucket); err != nil && !errors.Is(err, storage.ErrBucketOwnedByYou) {
		return classify(err)
	}
	return nil
}

func (b *envBuckets) Marked(ctx context.Context, kind, bucket string) (bool, error) {
	o, err := b.store(kind)
	if err != nil {
		return false, err
	}
	ok, err := o.Store.BucketMarked(ctx, bucket)
	return ok, classify(err)
}

func (b *envBuckets) Upload(ctx context.Context, kind, bucket, prefix string, sources []string) (int, error) {
	o, err := b.store(kind)
	if err != nil {
		return 0, err
	}
	// A local source leaves out what its .skyignore (else .gitignore) says, and its .git, as in SkyPilot.
	up := storage.Sync{Ignore: true, HashCache: b.hashCache(kind, o.Endpoint.URL, bucket, prefix, sources)}
	stats, err := up.Upload(ctx, o.Store, bucket, prefix, sources...)
	return stats.Transferred, classify(err)
}

// hashCache is the file that remembers the MD5s of one set of sources uploaded to one place (storage.Sync's
// HashCache), under STIX_HOME/storage/hashes: an unchanged upload then stats its files instead of reading them.
// "" (no cache) where there is no stix home.
func (b *envBuckets) hashCache(kind, endpoint, bucket, prefix string, sources []string) string {
	home := b.env.StixHome
	if home == "" && b.env.Home != "" {
		home = filepath.Join(b.env.Home, ".stix")
	}
	if home == "" {
		return ""
	}
	h := sha256.Sum256([]byte(strings.Join(append([]string{kind, endpoint, bucket, prefix}, sources...), "\x00")))
	return filepath.Join(home, "storage", "hashes", hex.EncodeToString(h[:16])+".json")
}

func (b *envBuckets) Delete(ctx context.Context, kind, endpoint, bucket string) error {
	o, err := b.storeAt(kind, endpoint)
	if err != nil {
		return err
	}
	return classify(o.DeleteBucket(ctx, bucket, true))
}

// storeAt is the store of kind at a recorded endpoint (as Endpoint named it when the bucket was made or
// mounted), with the caller's credentials: a bucket lives where it was made, whatever the caller's
// AWS_ENDPOINT_URL_S3 or config say now. "" is the caller's own endpoint; only S3's is pinned (R2's comes from
// its account file, GCS's from STORAGE_EMULATOR_HOST).
func (b *envBuckets) storeAt(kind, endpoint string) (*stores.Opened, error) {
	o, err := b.store(kind)
	if err != nil {
		return nil, err
	}
	if k, _ := storage.ParseKind(kind); k == storage.S3 && endpoint != "" && endpoint != o.Endpoint.URL {
		ep := storage.Endpoint{URL: endpoint, Region: b.s3ep.Region}
		return stores.Open(k, stores.Options{Env: &b.env, Endpoint: ep, PinEndpoint: true, S3CredentialChain: b.s3Chain})
	}
	return o, nil
}

func (b *envBuckets) Endpoint(kind string) (string, string) {
	o, err := b.store(kind)
	if err != nil {
		return "", ""
	}
	return o.Endpoint.URL, o.Endpoint.Region
}

func (b *envBuckets) NodeAccess(ctx context.Context, kind, endpoint string) (agent.Mount, error) {
	o, err := b.storeAt(kind, endpoint)
	if err != nil {
		return agent.Mount{}, err
	}
	m := agent.Mount{Store: kind, Endpoint: o.Endpoint.URL, Region: o.Endpoint.Region, PathStyle: o.Endpoint.PathStyle}
	if kind == string(storage.GCS) {
		// The API root (an emulator's); Google's own is the agent's default.
		m.Endpoint, m.PathStyle = "", false
		if u := strings.TrimSuffix(o.Endpoint.URL, "/"); u != "" && u != strings.TrimSuffix(gcs.DefaultEndpoint, "/") {
			m.Endpoint = u
		}
	}
	if o.S3Credentials != nil {
		c, err := o.S3Credentials.Retrieve(ctx)
		if err != nil {
			return m, err
		}
		m.Creds = agent.StoreCreds{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	}
	if o.GCSTokens != nil {
		tok, err := o.GCSTokens.Token(ctx)
		if err != nil {
			return m, err
		}
		m.Creds = agent.StoreCreds{GCSAccessToken: tok}
	}
	return m, nil
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

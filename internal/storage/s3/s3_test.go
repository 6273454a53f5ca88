package s3

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/storetest"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

func newClient(t *testing.T, srv *storagetest.S3, creds CredentialsProvider) *Client {
	t.Helper()
	c, err := New(Config{Endpoint: storage.Endpoint{URL: srv.URL, Region: srv.Region}, Credentials: creds,
		PartSize: 5 << 20, MultipartThreshold: 8 << 20, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rootCreds(srv *storagetest.S3) Static {
	return Static{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
}

func TestStoreBehaviour(t *testing.T) {
	t.Parallel()
	srv := storagetest.MinIO(t)
	storetest.Run(t, newClient(t, srv, rootCreds(srv)), "stix-s3")
}

// TestCredentialErrors: what MinIO says of bad credentials and of none comes back typed, with what to do.
func TestCredentialErrors(t *testing.T) {
	t.Parallel()
	srv := storagetest.MinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	good := newClient(t, srv, rootCreds(srv))
	if err := good.CreateBucket(ctx, "private"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		creds CredentialsProvider
		kind  error
		code  string
	}{
		{"wrong secret", Static{AccessKeyID: srv.AccessKey, SecretAccessKey: "not-the-secret"}, storage.ErrAuth, "SignatureDoesNotMatch"},
		{"unknown key", Static{AccessKeyID: "nobody", SecretAccessKey: "whatever123"}, storage.ErrAuth, "InvalidAccessKeyId"},
		{"anonymous", nil, storage.ErrAccessDenied, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, srv, tc.creds)
			err := c.List(ctx, "private", "", func(storage.Object) error { return nil })
			var se *storage.Error
			if !errors.Is(err, tc.kind) || !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("List: %v; want %q with code %s", err, tc.kind, tc.code)
			}
			if tc.kind == storage.ErrAuth && !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
				t.Errorf("the message says not what to do: %v", err)
			}
			// HeadBucket's answer has no body: BucketExists asks again to tell the two apart.
			ok, err := c.BucketExists(ctx, "private")
			if ok || !errors.Is(err, tc.kind) {
				t.Errorf("BucketExists: %v, %v; want %q", ok, err, tc.kind)
			}
		})
	}
}

// TestMissingCredentials: no credentials anywhere is an error before any request, saying where stix looked.
func TestMissingCredentials(t *testing.T) {
	t.Parallel()
	srv := storagetest.MinIO(t)
	c := newClient(t, srv, missing{reason: "no AWS credentials in the environment or ~/.aws/credentials"})
	_, err := c.BucketExists(context.Background(), "anything")
	if !errors.Is(err, storage.ErrAuth) || !strings.Contains(err.Error(), "~/.aws/credentials") {
		t.Fatalf("BucketExists without credentials: %v", err)
	}
}

// TestVirtualHostedAddressing: with a host name endpoint the bucket goes in the host (bucket.s3.stix.test), as
// AWS wants; MinIO serves that style when told its domain. The test's dialer sends every host to the server.
func TestVirtualHostedAddressing(t *testing.T) {
	t.Parallel()
	srv := storagetest.MinIOWith(t, storagetest.AccessKey, storagetest.SecretKey, "MINIO_DOMAIN=s3.stix.test")
	u, _ := url.Parse(srv.URL)
	var (
		mu    sync.Mutex
		hosts []string
	)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		hosts = append(hosts, addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, network, u.Host)
	}}
	c, err := New(Config{Endpoint: storage.Endpoint{URL: "http://s3.stix.test:" + u.Port(), Region: srv.Region},
		Credentials: rootCreds(srv), HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	if c.pathStyle {
		t.Fatal("a host-name endpoint chose path style")
	}
	ctx := context.Background()
	if err := c.CreateBucket(ctx, "vhost"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "vhost", "dir/key with space", strings.NewReader("hello"), 5, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := c.Get(ctx, "vhost", "dir/key with space")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "hello" {
		t.Fatalf("Get = %q", data)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) == 0 || !strings.HasPrefix(hosts[0], "vhost.s3.stix.test:") {
		t.Errorf("dialled %v; want vhost.s3.stix.test", hosts)
	}
	// The same server through a path-style client (an IP address endpoint) sees the same object.
	pc := newClient(t, srv, rootCreds(srv))
	if !pc.pathStyle {
		t.Error("an IP address endpoint did not choose path style")
	}
	if o, err := pc.Stat(ctx, "vhost", "dir/key with space"); err != nil || o.Size != 5 {
		t.Errorf("Stat through path style: %+v, %v", o, err)
	}
}

// TestBucketTakenByAnotherAccount: two MinIO servers in one federated bucket namespace stand for two accounts
// of a store: a name the first holds is BucketAlreadyExists (ErrBucketTaken) to the second, and
// BucketAlreadyOwnedByYou (ErrBucketOwnedByYou) to the first.
func TestBucketTakenByAnotherAccount(t *testing.T) {
	t.Parallel()
	a, b := storagetest.Federation(t)
	ctx := context.Background()
	ca, cb := newClient(t, a, rootCreds(a)), newClient(t, b, rootCreds(b))
	if err := ca.CreateBucket(ctx, "held-by-a"); err != nil {
		t.Fatal(err)
	}
	err := cb.CreateBucket(ctx, "held-by-a")
	var se *storage.Error
	if !errors.Is(err, storage.ErrBucketTaken) || !errors.As(err, &se) || se.Code != "BucketAlreadyExists" ||
		!strings.Contains(err.Error(), "choose another name") {
		t.Fatalf("CreateBucket of a name another account holds: %v; want ErrBucketTaken", err)
	}
	if err := ca.CreateBucket(ctx, "held-by-a"); !errors.Is(err, storage.ErrBucketOwnedByYou) {
		t.Errorf("CreateBucket again by the holder: %v; want ErrBucketOwnedByYou", err)
	}
}

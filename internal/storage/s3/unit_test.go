package s3

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
)

// TestSignExamples: the signatures of the worked examples in AWS's "Signature Calculations for the Authorization
// Header" (S3 API reference).
func TestSignExamples(t *testing.T) {
	t.Parallel()
	creds := Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	now := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		query map[string]string
		want  string
	}{
		{"GET Bucket lifecycle", map[string]string{"lifecycle": ""}, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
		{"GET Bucket (list objects)", map[string]string{"max-keys": "2", "prefix": "J"}, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
	} {
		q := canonicalQuery(tc.query)
		req, _ := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/?"+q, nil)
		sign(req, creds, "us-east-1", "/", q, emptySHA256, now)
		auth := req.Header.Get("Authorization")
		if !strings.HasSuffix(auth, "Signature="+tc.want) ||
			!strings.Contains(auth, "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date,") {
			t.Errorf("%s: Authorization %q; want signature %s", tc.name, auth, tc.want)
		}
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	if got := escape("dir/a b+c~é&=?.bin", true); got != "dir/a%20b%2Bc~%C3%A9%26%3D%3F.bin" {
		t.Errorf("escape = %q", got)
	}
	if got := canonicalQuery(map[string]string{"uploadId": "a/b", "partNumber": "3"}); got != "partNumber=3&uploadId=a%2Fb" {
		t.Errorf("canonicalQuery = %q", got)
	}
}

// TestClassify: S3's error bodies (as AWS documents them) map to the storage error kinds, including the two that
// MinIO cannot produce: BucketAlreadyExists (a name another account holds; MinIO has one account) and
// AuthorizationHeaderMalformed's region.
func TestClassify(t *testing.T) {
	t.Parallel()
	c, _ := New(Config{})
	for _, tc := range []struct {
		status int
		body   string
		kind   error
		retry  bool
		region string
	}{
		{409, `<Error><Code>BucketAlreadyExists</Code><Message>The requested bucket name is not available.</Message><RequestId>R1</RequestId></Error>`, storage.ErrBucketTaken, false, ""},
		{409, `<Error><Code>BucketAlreadyOwnedByYou</Code></Error>`, storage.ErrBucketOwnedByYou, false, ""},
		{404, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><BucketName>b</BucketName></Error>`, storage.ErrNoSuchBucket, false, ""},
		{403, `<Error><Code>InvalidAccessKeyId</Code></Error>`, storage.ErrAuth, false, ""},
		{403, `<Error><Code>ExpiredToken</Code></Error>`, storage.ErrAuth, false, ""},
		{403, `<Error><Code>AccessDenied</Code></Error>`, storage.ErrAccessDenied, false, ""},
		{403, ``, storage.ErrAccessDenied, false, ""},
		{404, ``, storage.ErrNoSuchBucket, false, ""},
		{503, `<Error><Code>SlowDown</Code></Error>`, nil, true, ""},
		{500, `<Error><Code>InternalError</Code></Error>`, nil, true, ""},
		{400, `<Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-west-1</Region></Error>`, nil, false, "eu-west-1"},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
		a := c.errorOf(&request{op: "op", bucket: "b"}, resp)
		if a.err.Kind != tc.kind || a.retry != tc.retry || a.region != tc.region {
			t.Errorf("%d %s: kind %v retry %v region %q; want %v %v %q", tc.status, tc.body, a.err.Kind, a.retry, a.region,
				tc.kind, tc.retry, tc.region)
		}
	}
}

func TestPathStyleAndTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ep     storage.Endpoint
		bucket string
		key    string
		want   string
	}{
		{storage.Endpoint{}, "data", "a b/c", "https://data.s3.us-east-1.amazonaws.com/a%20b/c"},
		{storage.Endpoint{Region: "eu-west-1"}, "my.dotted", "k", "https://s3.eu-west-1.amazonaws.com/my.dotted/k"},
		{storage.Endpoint{URL: "http://127.0.0.1:9000"}, "data", "k", "http://127.0.0.1:9000/data/k"},
		{storage.Endpoint{URL: "http://localhost:9000/"}, "data", "", "http://localhost:9000/data"},
		{storage.Endpoint{URL: "https://minio.example.com", PathStyle: true}, "data", "k", "https://minio.example.com/data/k"},
		{storage.Endpoint{URL: "https://s3.example.com"}, "data", "k", "https://data.s3.example.com/k"},
	} {
		c, err := New(Config{Endpoint: tc.ep})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := c.target(&request{bucket: tc.bucket, key: tc.key}, c.cfg.Endpoint.Region)
		if u.String() != tc.want {
			t.Errorf("%+v %s/%s: %s, want %s", tc.ep, tc.bucket, tc.key, u, tc.want)
		}
	}
	if _, err := New(Config{Endpoint: storage.Endpoint{URL: "minio:9000"}}); err == nil {
		t.Error("an endpoint without a scheme was taken")
	}
}

// home makes a home directory with files (relative path -> content) and an Env over it and vars.
func home(t *testing.T, files map[string]string, vars map[string]string) *credcheck.Env {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := credcheck.Env{Home: dir, Getenv: func(k string) string { return vars[k] }}.WithDefaults()
	return &e
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	awsFiles := map[string]string{
		".aws/credentials": "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = defsecret\n" +
			"[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = devsecret\naws_session_token = devtoken\n",
		".aws/config": "[default]\nregion = eu-central-1\n[profile dev]\nregion = ap-south-1\n" +
			"[profile cfgonly]\naws_access_key_id = CFGKEY\naws_secret_access_key = cfgsecret\n",
	}
	for _, tc := range []struct {
		name       string
		vars       map[string]string
		ep         storage.Endpoint
		wantKey    string
		wantToken  string
		wantRegion string
		wantURL    string
	}{
		{"environment wins", map[string]string{"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok",
			"AWS_REGION": "us-west-2"}, storage.Endpoint{}, "ENVKEY", "tok", "us-west-2", ""},
		{"default profile", nil, storage.Endpoint{}, "DEFKEY", "", "eu-central-1", ""},
		{"AWS_PROFILE", map[string]string{"AWS_PROFILE": "dev"}, storage.Endpoint{}, "DEVKEY", "devtoken", "ap-south-1", ""},
		{"keys in the config file", map[string]string{"AWS_PROFILE": "cfgonly"}, storage.Endpoint{}, "CFGKEY", "", "", ""},
		{"config endpoint and region", nil, storage.Endpoint{URL: "http://10.0.0.5:9000", Region: "minio-1"}, "DEFKEY", "", "minio-1", "http://10.0.0.5:9000"},
		{"AWS_ENDPOINT_URL over config", map[string]string{"AWS_ENDPOINT_URL": "http://a:1"}, storage.Endpoint{URL: "http://cfg:2"}, "DEFKEY", "", "eu-central-1", "http://a:1"},
		{"AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "http://s3:3"}, storage.Endpoint{}, "DEFKEY", "", "eu-central-1", "http://s3:3"},
		{"endpoints ignored", map[string]string{"AWS_ENDPOINT_URL_S3": "http://s3:3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, storage.Endpoint{}, "DEFKEY", "", "eu-central-1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromEnv(home(t, awsFiles, tc.vars), tc.ep)
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(t.Context())
			if err != nil || creds.AccessKeyID != tc.wantKey || creds.SessionToken != tc.wantToken {
				t.Errorf("credentials %+v, %v; want key %s token %q", creds, err, tc.wantKey, tc.wantToken)
			}
			if cfg.Endpoint.Region != tc.wantRegion || cfg.Endpoint.URL != tc.wantURL {
				t.Errorf("endpoint %+v; want region %q URL %q", cfg.Endpoint, tc.wantRegion, tc.wantURL)
			}
		})
	}

	for _, tc := range []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  string
	}{
		{"nothing", nil, nil, "no AWS credentials in the environment or ~/.aws/credentials or ~/.aws/config: run `aws configure`"},
		{"unknown profile", awsFiles, map[string]string{"AWS_PROFILE": "nope"}, `AWS_PROFILE selects profile "nope", which is not in`},
		{"SSO profile", map[string]string{".aws/config": "[profile sso]\nsso_start_url = https://x\n"}, map[string]string{"AWS_PROFILE": "sso"},
			"has no access keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromEnv(home(t, tc.files, tc.vars), storage.Endpoint{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cfg.Credentials.Retrieve(t.Context())
			if !errors.Is(err, storage.ErrAuth) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Retrieve: %v; want ErrAuth saying %q", err, tc.want)
			}
		})
	}
}

func TestFromR2(t *testing.T) {
	t.Parallel()
	e := home(t, map[string]string{
		".cloudflare/accountid":      "0123abcd\n",
		".cloudflare/r2.credentials": "[r2]\naws_access_key_id = R2KEY\naws_secret_access_key = r2secret\n",
		".aws/credentials":           "[r2]\naws_access_key_id = NOTTHIS\naws_secret_access_key = x\n",
	}, nil)
	cfg, err := FromR2(e)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := cfg.Credentials.Retrieve(t.Context())
	if cfg.Kind != storage.R2 || cfg.Endpoint.URL != "https://0123abcd.r2.cloudflarestorage.com" || cfg.Endpoint.Region != "auto" ||
		creds.AccessKeyID != "R2KEY" {
		t.Errorf("FromR2 = %+v, key %s", cfg, creds.AccessKeyID)
	}
	_, err = FromR2(home(t, nil, nil))
	if err == nil || !strings.Contains(err.Error(), "no Cloudflare account id in ~/.cloudflare/accountid") {
		t.Errorf("FromR2 without files: %v", err)
	}
	_, err = FromR2(home(t, map[string]string{".cloudflare/accountid": "x"}, nil))
	if err == nil || !strings.Contains(err.Error(), `no access keys in profile "r2" of ~/.cloudflare/r2.credentials`) {
		t.Errorf("FromR2 without credentials: %v", err)
	}
}

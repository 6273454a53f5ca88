package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		want   URI
		prefix string
	}{
		{"s3://my-bucket", URI{Kind: S3, Bucket: "my-bucket"}, ""},
		{"s3://my-bucket/", URI{Kind: S3, Bucket: "my-bucket"}, ""},
		{"s3://my.bucket.v2/sub/path/", URI{Kind: S3, Bucket: "my.bucket.v2", Path: "sub/path"}, "sub/path/"},
		{"gs://data_set-1/train", URI{Kind: GCS, Bucket: "data_set-1", Path: "train"}, "train/"},
		{"GS://abc/x", URI{Kind: GCS, Bucket: "abc", Path: "x"}, "x/"},
		{"r2://ckpt-bucket/run-1", URI{Kind: R2, Bucket: "ckpt-bucket", Path: "run-1"}, "run-1/"},
	} {
		got, err := ParseURI(tc.in)
		if err != nil || got != tc.want || got.Prefix() != tc.prefix {
			t.Errorf("ParseURI(%q) = %+v (prefix %q), %v; want %+v, %q", tc.in, got, got.Prefix(), err, tc.want, tc.prefix)
		}
		if back, _ := ParseURI(got.String()); back != got {
			t.Errorf("%q does not parse back: %+v", got.String(), back)
		}
	}
}

func TestParseURIErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/local/path", "is not a bucket URI"},
		{"s3://", "names no bucket"},
		{"s3://ab", "3 to 63 characters"},
		{"s3://" + strings.Repeat("a", 64), "3 to 63 characters, this one 64"},
		{"s3://My-Bucket", `character 'M' at 1 is not allowed`},
		{"s3://bucket_1", `character '_' at 7`},
		{"r2://my.bucket", `character '.' at 3 is not allowed; use only lowercase letters, digits and '-'`},
		{"s3://-bucket", "starts and ends with a lowercase letter or a digit"},
		{"s3://bucket-", "starts and ends"},
		{"s3://a..b", "no two adjacent dots"},
		{"s3://192.168.1.1", "may not be an IP address"},
		{"s3://xn--bucket", `reserves the prefix "xn--"`},
		{"s3://data-s3alias", `reserves the suffix "-s3alias"`},
		{"gs://google-data", `contain "google"`},
		{"gs://goog-data", `start with "goog"`},
		{"s3://bucket/a/../b", "'..'"},
		{"azure://x/y", "not supported yet"},
		{"https://acct.blob.core.windows.net/c", "Azure Blob Storage is not supported yet"},
		{"ftp://host/x", `unknown bucket URI scheme "ftp"`},
	} {
		_, err := ParseURI(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURI(%q) = %v; want an error containing %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseURI("s3://A"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("a bad name's error is not ErrInvalidName: %v", err)
	}
}

func TestGCSDottedNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63)
	if err := ValidateBucketName(GCS, long); err != nil {
		t.Errorf("a 191-character dotted GCS name: %v", err)
	}
	if err := ValidateBucketName(S3, long); err == nil {
		t.Error("S3 took a 191-character name")
	}
	if err := ValidateBucketName(GCS, strings.Repeat("a", 64)+".b"); err == nil || !strings.Contains(err.Error(), "each dot-separated part") {
		t.Errorf("a GCS name with a 64-character part: %v", err)
	}
}

func TestIsURIAndParseKind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"s3://b": true, "gs://b/x": true, "./s3://x": false, "~/data": false, "data": false,
		"/abs/path": false, "cos://b": true} {
		if IsURI(in) != want {
			t.Errorf("IsURI(%q) = %v", in, !want)
		}
	}
	if k, err := ParseKind("GCS"); k != GCS || err != nil {
		t.Errorf("ParseKind(GCS) = %q, %v", k, err)
	}
	if _, err := ParseKind("azure"); err == nil || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("ParseKind(azure) = %v", err)
	}
	if _, err := ParseKind("dropbox"); err == nil || !strings.Contains(err.Error(), "unknown store") {
		t.Errorf("ParseKind(dropbox) = %v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	e := &Error{Store: S3, Op: "create bucket", Bucket: "taken", Kind: ErrBucketTaken, Status: 409,
		Code: "BucketAlreadyExists", Message: "The requested bucket name is not available."}
	want := "create bucket s3://taken: the bucket name is taken by another account (HTTP 409 BucketAlreadyExists: " +
		"The requested bucket name is not available.); bucket names are global to the store: choose another name"
	if e.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", e.Error(), want)
	}
	if !errors.Is(e, ErrBucketTaken) {
		t.Error("errors.Is does not see the kind")
	}
}

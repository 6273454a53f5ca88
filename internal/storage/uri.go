package storage

import (
	"fmt"
	"net/netip"
	"strings"
)

// URI is a parsed bucket URI: s3://bucket/sub/path, gs://bucket, r2://bucket/sub.
type URI struct {
	Kind   Kind
	Bucket string
	// Path is the sub-path inside the bucket, without leading or trailing slashes ("" for the whole bucket).
	Path string
}

// String writes the URI back: scheme://bucket[/path].
func (u URI) String() string {
	s := u.Kind.Scheme() + "://" + u.Bucket
	if u.Path != "" {
		s += "/" + u.Path
	}
	return s
}

// Prefix is the key prefix of the sub-path: "sub/path/", or "" for the whole bucket.
func (u URI) Prefix() string {
	if u.Path == "" {
		return ""
	}
	return u.Path + "/"
}

// schemeKind maps a URI scheme to its store.
func schemeKind(scheme string) (Kind, bool) {
	switch scheme {
	case "s3":
		return S3, true
	case "gs":
		return GCS, true
	case "r2":
		return R2, true
	}
	return "", false
}

// IsURI reports whether s looks like a bucket URI (scheme://...), supported or not, rather than a local path.
func IsURI(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], "/.~")
}

// ParseURI parses a bucket URI and checks the bucket name by its store's rules.
func ParseURI(s string) (URI, error) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return URI{}, fmt.Errorf("%q is not a bucket URI: write s3://BUCKET[/PATH], gs://BUCKET[/PATH] or r2://BUCKET[/PATH]", s)
	}
	scheme := strings.ToLower(s[:i])
	kind, ok := schemeKind(scheme)
	if !ok {
		switch scheme {
		case "https", "http":
			return URI{}, fmt.Errorf("%q: stix does not read buckets by URL (Azure Blob Storage is not supported yet); "+
				"write s3://, gs:// or r2://, and give an S3-compatible endpoint in stix's config or AWS_ENDPOINT_URL_S3", s)
		case "cos", "oci", "nebius", "az", "azure", "cw", "ibm":
			return URI{}, fmt.Errorf("%q: the %s:// store is not supported yet: stix speaks s3:// (and any S3-compatible "+
				"store by endpoint), gs:// and r2://", s, scheme)
		}
		return URI{}, fmt.Errorf("%q: unknown bucket URI scheme %q: write s3://, gs:// or r2://", s, scheme)
	}
	rest := s[i+3:]
	bucket, path, _ := strings.Cut(rest, "/")
	path = strings.Trim(path, "/")
	if strings.Contains("/"+path+"/", "/../") || strings.Contains("/"+path+"/", "/./") || strings.Contains(path, "//") {
		return URI{}, fmt.Errorf("%q: the path inside the bucket may not contain '.', '..' or empty segments", s)
	}
	if err := ValidateBucketName(kind, bucket); err != nil {
		return URI{}, fmt.Errorf("%q: %w", s, err)
	}
	return URI{Kind: kind, Bucket: bucket, Path: path}, nil
}

// ParseKind reads a `store:` value (s3, gcs, r2; case-insensitive).
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case S3, GCS, R2:
		return k, nil
	case "azure", "ibm", "oci", "nebius", "coreweave":
		return "", fmt.Errorf("store %q is not supported yet: use s3 (or any S3-compatible store by endpoint), gcs or r2", s)
	}
	return "", fmt.Errorf("unknown store %q: use s3, gcs or r2", s)
}

// ValidateBucketName checks a bucket name by the store's naming rules. The error (ErrInvalidName) says which
// rule the name breaks.
func ValidateBucketName(kind Kind, name string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q for %s: %s", ErrInvalidName, name, kind, fmt.Sprintf(format, args...))
	}
	maxLen := 63
	allowed := "lowercase letters, digits, '-' and '.'"
	switch kind {
	case GCS:
		allowed = "lowercase letters, digits, '-', '_' and '.'"
		if strings.Contains(name, ".") {
			maxLen = 222 // dotted names: up to 222, each part up to 63
		}
	case R2:
		allowed = "lowercase letters, digits and '-'"
	}
	if name == "" {
		return bad("the URI names no bucket")
	}
	if len(name) < 3 || len(name) > maxLen {
		return bad("a bucket name has 3 to %d characters, this one %d", maxLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' ||
			c == '.' && kind != R2 || c == '_' && kind == GCS
		if !ok {
			return bad("character %q at %d is not allowed; use only %s", c, i+1, allowed)
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("a bucket name starts and ends with a lowercase letter or a digit")
	}
	if strings.Contains(name, "..") {
		return bad("a bucket name has no two adjacent dots")
	}
	for _, part := range strings.Split(name, ".") {
		if len(part) > 63 {
			return bad("each dot-separated part has at most 63 characters")
		}
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("a bucket name may not be an IP address")
	}
	switch kind {
	case S3:
		for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
			if strings.HasPrefix(name, p) {
				return bad("S3 reserves the prefix %q", p)
			}
		}
		for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
			if strings.HasSuffix(name, s) {
				return bad("S3 reserves the suffix %q", s)
			}
		}
	case GCS:
		if strings.HasPrefix(name, "goog") || strings.Contains(name, "google") {
			return bad(`GCS refuses names that start with "goog" or contain "google"`)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

package s3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// AWS Signature Version 4 (header form), as S3 reads it: the canonical request's path is each segment
// percent-encoded once, the query sorted by key, and the signed headers are host and every x-amz-*, content-md5
// and content-type header the request carries.

// unsignedPayload is the payload hash of a body stix streams without hashing it first: the body's integrity is
// checked with Content-MD5 instead, which costs one MD5 rather than a SHA-256 pass before the first byte is sent.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// emptySHA256 is the SHA-256 of an empty body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// sign adds x-amz-date, x-amz-content-sha256, x-amz-security-token and Authorization to req. canonicalURI and
// canonicalQuery are the encoded path and query the request is sent with.
func sign(req *http.Request, creds Credentials, region, canonicalURI, canonicalQuery, payloadHash string, now time.Time) {
	now = now.UTC()
	amzDate := now.Format("20060102T150405Z")
	date := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	type kv struct{ k, v string }
	hdrs := []kv{{"host", host}}
	for name, vals := range req.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-amz-") || l == "content-md5" || l == "content-type" {
			trimmed := make([]string, len(vals))
			for i, v := range vals {
				trimmed[i] = strings.Join(strings.Fields(v), " ")
			}
			hdrs = append(hdrs, kv{l, strings.Join(trimmed, ",")})
		}
	}
	sort.Slice(hdrs, func(i, j int) bool { return hdrs[i].k < hdrs[j].k })
	var canonHeaders strings.Builder
	names := make([]string, len(hdrs))
	for i, h := range hdrs {
		canonHeaders.WriteString(h.k + ":" + h.v + "\n")
		names[i] = h.k
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{req.Method, canonicalURI, canonicalQuery, canonHeaders.String(), signed, payloadHash}, "\n")
	scope := date + "/" + region + "/s3/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+creds.AccessKeyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+sig)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// escape percent-encodes s as SigV4 wants: every byte but the unreserved A-Z a-z 0-9 - _ . ~ (and '/' when
// keepSlash).
func escape(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' ||
			c == '.' || c == '~' || c == '/' && keepSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// canonicalQuery encodes q sorted by key (then value), as both the URL and the signature use it.
func canonicalQuery(q map[string]string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = escape(k, false) + "=" + escape(q[k], false)
	}
	return strings.Join(parts, "&")
}

package s3

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"strings"

	"github.com/stix-run/stix/internal/storage"
)

// xmlError is S3's error body: <Error><Code>NoSuchBucket</Code><Message>...</Message>...</Error>.
type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	Region    string   `xml:"Region"`
}

// answer is a classified error answer.
type answer struct {
	err    *storage.Error
	region string // the bucket's region, when AWS says the request went to the wrong one
	retry  bool
}

// errorOf reads and closes an error answer and classifies it.
func (c *Client) errorOf(r *request, resp *http.Response) answer {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var x xmlError
	if len(bytes.TrimSpace(data)) > 0 {
		_ = xml.Unmarshal(data, &x)
	}
	if x.RequestID == "" {
		x.RequestID = resp.Header.Get("X-Amz-Request-Id")
	}
	e := &storage.Error{Store: c.cfg.Kind, Op: r.op, Bucket: r.bucket, Key: r.key, Status: resp.StatusCode,
		Code: x.Code, Message: x.Message, RequestID: x.RequestID}
	if e.Code == "" && e.Message == "" && len(data) > 0 && x.XMLName.Local == "" {
		e.Message = strings.TrimSpace(string(data[:min(len(data), 200)]))
	}
	e.Kind = classify(x.Code, resp.StatusCode, r.objectOp)
	region := resp.Header.Get("X-Amz-Bucket-Region")
	if region == "" {
		region = x.Region
	}
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
		x.Code == "SlowDown" || x.Code == "RequestTimeout" || x.Code == "InternalError"
	return answer{err: e, region: region, retry: retry}
}

// classify maps an S3 error code (or, for bodiless HEAD answers, the status) to a storage error kind.
func classify(code string, status int, objectOp bool) error {
	switch code {
	case "NoSuchBucket":
		return storage.ErrNoSuchBucket
	case "NoSuchKey":
		return storage.ErrNoSuchKey
	case "BucketAlreadyOwnedByYou":
		return storage.ErrBucketOwnedByYou
	case "BucketAlreadyExists":
		return storage.ErrBucketTaken
	case "BucketNotEmpty":
		return storage.ErrBucketNotEmpty
	case "AccessDenied", "AllAccessDisabled", "AccountProblem":
		return storage.ErrAccessDenied
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
		"InvalidSecurity", "MissingSecurityHeader", "InvalidClientTokenId":
		return storage.ErrAuth
	case "InvalidBucketName":
		return storage.ErrInvalidName
	case "":
		switch status {
		case http.StatusNotFound:
			if objectOp {
				return storage.ErrNoSuchKey
			}
			return storage.ErrNoSuchBucket
		case http.StatusForbidden:
			return storage.ErrAccessDenied
		case http.StatusUnauthorized:
			return storage.ErrAuth
		}
	}
	return nil
}

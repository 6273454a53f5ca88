package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/storage"
)

// BucketExists is HeadBucket. A HEAD answer has no body, so a 403 is asked again as GetBucketLocation to tell
// rejected credentials (ErrAuth) from a bucket they may not use (ErrAccessDenied).
func (c *Client) BucketExists(ctx context.Context, bucket string) (bool, error) {
	resp, err := c.do(ctx, &request{op: "head bucket", method: http.MethodHead, bucket: bucket})
	if err == nil {
		resp.Body.Close()
		return true, nil
	}
	if errors.Is(err, storage.ErrNoSuchBucket) {
		return false, nil
	}
	var se *storage.Error
	if errors.As(err, &se) && se.Status == http.StatusForbidden && se.Code == "" {
		resp, err2 := c.do(ctx, &request{op: "head bucket", method: http.MethodGet, bucket: bucket,
			query: map[string]string{"location": ""}})
		if err2 == nil {
			resp.Body.Close()
			return true, nil
		}
		if errors.Is(err2, storage.ErrNoSuchBucket) {
			return false, nil
		}
		return false, err2
	}
	return false, err
}

// CreateBucket is CreateBucket, with the region as LocationConstraint outside us-east-1 (which takes none).
func (c *Client) CreateBucket(ctx context.Context, bucket string) error {
	if err := storage.ValidateBucketName(c.cfg.Kind, bucket); err != nil {
		return err
	}
	r := &request{op: "create bucket", method: http.MethodPut, bucket: bucket}
	if region := c.cfg.Endpoint.Region; region != "us-east-1" && c.cfg.Kind != storage.R2 {
		body := []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>` +
			xmlEscape(region) + `</LocationConstraint></CreateBucketConfiguration>`)
		setXMLBody(r, body)
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// MarkBucket is PutBucketTagging with the one tag storage.ManagedLabel=true (a bucket stix made has no other).
func (c *Client) MarkBucket(ctx context.Context, bucket string) error {
	r := &request{op: "tag bucket", method: http.MethodPut, bucket: bucket, query: map[string]string{"tagging": ""}}
	setXMLBody(r, []byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>`+storage.ManagedLabel+
		`</Key><Value>true</Value></Tag></TagSet></Tagging>`))
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// BucketMarked is GetBucketTagging: whether the bucket has the tag storage.ManagedLabel=true. A bucket without
// tags (NoSuchTagSet) is not marked.
func (c *Client) BucketMarked(ctx context.Context, bucket string) (bool, error) {
	resp, err := c.do(ctx, &request{op: "get bucket tags", method: http.MethodGet, bucket: bucket,
		query: map[string]string{"tagging": ""}})
	var se *storage.Error
	if errors.As(err, &se) && (se.Code == "NoSuchTagSet" || se.Code == "NoSuchTagSetError") {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var tags struct {
		Tags []struct {
			Key   string `xml:"Key"`
			Value string `xml:"Value"`
		} `xml:"TagSet>Tag"`
	}
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tags); err != nil {
		return false, fmt.Errorf("s3 get bucket tags %s: %w", bucket, err)
	}
	for _, t := range tags.Tags {
		if t.Key == storage.ManagedLabel && t.Value == "true" {
			return true, nil
		}
	}
	return false, nil
}

// DeleteBucket is DeleteBucket; force deletes the objects first.
func (c *Client) DeleteBucket(ctx context.Context, bucket string, force bool) error {
	if force {
		if err := c.deleteAll(ctx, bucket); err != nil {
			return err
		}
	}
	resp, err := c.do(ctx, &request{op: "delete bucket", method: http.MethodDelete, bucket: bucket})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// deleteAll deletes every object of the bucket, a listed page at a time.
func (c *Client) deleteAll(ctx context.Context, bucket string) error {
	var keys []string
	err := c.List(ctx, bucket, "", func(o storage.Object) error {
		keys = append(keys, o.Key)
		if len(keys) == maxDeleteKeys {
			err := c.DeleteObjects(ctx, bucket, keys)
			keys = keys[:0]
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.DeleteObjects(ctx, bucket, keys)
}

// listResult is ListObjectsV2's answer.
type listResult struct {
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
	Contents              []struct {
		Key          string    `xml:"Key"`
		Size         int64     `xml:"Size"`
		ETag         string    `xml:"ETag"`
		LastModified time.Time `xml:"LastModified"`
	} `xml:"Contents"`
}

// List is ListObjectsV2, every page.
func (c *Client) List(ctx context.Context, bucket, prefix string, fn func(storage.Object) error) error {
	token := ""
	for {
		q := map[string]string{"list-type": "2", "max-keys": itoa(c.cfg.PageSize)}
		if prefix != "" {
			q["prefix"] = prefix
		}
		if token != "" {
			q["continuation-token"] = token
		}
		var out listResult
		if err := c.doXML(ctx, &request{op: "list", method: http.MethodGet, bucket: bucket, query: q}, &out); err != nil {
			return err
		}
		for _, o := range out.Contents {
			etag := strings.Trim(o.ETag, `"`)
			if err := fn(storage.Object{Key: o.Key, Size: o.Size, ETag: etag, MD5: etagMD5(etag), Modified: o.LastModified}); err != nil {
				return err
			}
		}
		if !out.IsTruncated || out.NextContinuationToken == "" {
			return nil
		}
		token = out.NextContinuationToken
	}
}

// etagMD5 returns the ETag when it is an MD5 (32 hex digits: a single-part upload), else "".
func etagMD5(etag string) string {
	if len(etag) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(etag); err != nil {
		return ""
	}
	return strings.ToLower(etag)
}

// Stat is HeadObject.
func (c *Client) Stat(ctx context.Context, bucket, key string) (storage.Object, error) {
	resp, err := c.do(ctx, &request{op: "stat", method: http.MethodHead, bucket: bucket, key: key, objectOp: true})
	if err != nil {
		return storage.Object{}, err
	}
	resp.Body.Close()
	return objectOf(key, resp), nil
}

// Get is GetObject; the body streams.
func (c *Client) Get(ctx context.Context, bucket, key string) (io.ReadCloser, storage.Object, error) {
	resp, err := c.do(ctx, &request{op: "get", method: http.MethodGet, bucket: bucket, key: key, objectOp: true})
	if err != nil {
		return nil, storage.Object{}, err
	}
	return resp.Body, objectOf(key, resp), nil
}

// objectOf reads an object's attributes from HeadObject's or GetObject's headers.
func objectOf(key string, resp *http.Response) storage.Object {
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	o := storage.Object{Key: key, Size: resp.ContentLength, ETag: etag, Metadata: map[string]string{}}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		o.Modified = t
	}
	for name, vals := range resp.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-amz-meta-") && len(vals) > 0 {
			o.Metadata[strings.TrimPrefix(l, "x-amz-meta-")] = vals[0]
		}
	}
	o.MD5 = etagMD5(etag)
	if m := o.Metadata[storage.MetaMD5]; m != "" {
		o.MD5 = strings.ToLower(m)
	}
	return o
}

// maxDeleteKeys is the most keys one DeleteObjects call takes.
const maxDeleteKeys = 1000

// deleteResult is DeleteObjects' answer (quiet: only the keys that failed).
type deleteResult struct {
	Errors []struct {
		Key     string `xml:"Key"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
}

// DeleteObjects is DeleteObjects, 1000 keys a call.
func (c *Client) DeleteObjects(ctx context.Context, bucket string, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), maxDeleteKeys)]
		keys = keys[len(batch):]
		var b bytes.Buffer
		b.WriteString(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>`)
		for _, k := range batch {
			b.WriteString("<Object><Key>" + xmlEscape(k) + "</Key></Object>")
		}
		b.WriteString("</Delete>")
		r := &request{op: "delete objects", method: http.MethodPost, bucket: bucket, query: map[string]string{"delete": ""}}
		setXMLBody(r, b.Bytes())
		var out deleteResult
		if err := c.doXML(ctx, r, &out); err != nil {
			return err
		}
		for _, e := range out.Errors {
			if e.Code == "NoSuchKey" {
				continue
			}
			return &storage.Error{Store: c.cfg.Kind, Op: "delete object", Bucket: bucket, Key: e.Key,
				Code: e.Code, Message: e.Message, Kind: classify(e.Code, 0, true)}
		}
	}
	return nil
}

// doXML sends r and decodes its XML answer into out. An answer that is an <Error> despite its 200 status
// (CompleteMultipartUpload does that) is an error.
func (c *Client) doXML(ctx context.Context, r *request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", c.cfg.Kind, r.op, err)
	}
	var x xmlError
	if xml.Unmarshal(data, &x) == nil && x.Code != "" {
		return &storage.Error{Store: c.cfg.Kind, Op: r.op, Bucket: r.bucket, Key: r.key, Status: resp.StatusCode,
			Code: x.Code, Message: x.Message, RequestID: x.RequestID, Kind: classify(x.Code, 0, r.objectOp)}
	}
	if err := xml.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: malformed answer: %w", c.cfg.Kind, r.op, err)
	}
	return nil
}

// setXMLBody makes data r's body, with the headers S3 wants of it (Content-MD5 is required by DeleteObjects).
func setXMLBody(r *request, data []byte) {
	if r.header == nil {
		r.header = http.Header{}
	}
	sum := md5.Sum(data)
	r.header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	r.header.Set("Content-Type", "application/xml")
	sha := sha256.Sum256(data)
	r.payloadHash = hex.EncodeToString(sha[:])
	r.body = func() io.Reader { return bytes.NewReader(data) }
	r.size = int64(len(data))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// itoa is strconv.Itoa, for query values.
func itoa(n int) string { return strconv.Itoa(n) }

package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/storage"
)

// Put is PutObject, or a multipart upload with PartConcurrency parts in flight for objects of MultipartThreshold
// bytes or more. Every request carries Content-MD5, so the store refuses a body that changed on the way; the
// whole content's MD5 is saved as x-amz-meta-stix-md5 (a multipart object's ETag is no MD5 of its content).
func (c *Client) Put(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts storage.PutOptions) (storage.Object, error) {
	sum := opts.MD5
	multipart := size >= c.cfg.MultipartThreshold
	var partSums []string
	if sum == "" {
		// One pass for the whole content's MD5 and, for a multipart upload, each part's.
		var err error
		if sum, partSums, err = md5Parts(body, size, c.partSize(size), multipart); err != nil {
			return storage.Object{}, fmt.Errorf("%s put %s/%s: read the content: %w", c.cfg.Kind, bucket, key, err)
		}
	}
	h := http.Header{}
	for k, v := range opts.Metadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	h.Set("X-Amz-Meta-"+storage.MetaMD5, sum)
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	if multipart {
		return c.putMultipart(ctx, bucket, key, body, size, sum, partSums, h)
	}
	raw, err := hex.DecodeString(sum)
	if err != nil {
		return storage.Object{}, fmt.Errorf("%s put %s/%s: MD5 %q is not hex", c.cfg.Kind, bucket, key, sum)
	}
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(raw))
	r := &request{op: "put", method: http.MethodPut, bucket: bucket, key: key, header: h, size: size,
		payloadHash: unsignedPayload, objectOp: true,
		body: func() io.Reader { return io.NewSectionReader(body, 0, size) }}
	resp, err := c.do(ctx, r)
	if err != nil {
		return storage.Object{}, err
	}
	resp.Body.Close()
	return storage.Object{Key: key, Size: size, ETag: strings.Trim(resp.Header.Get("ETag"), `"`), MD5: sum,
		Modified: c.cfg.Now()}, nil
}

// md5Parts returns the hex MD5 of size bytes of r and, with parts, of each partSize-long part, reading r once.
func md5Parts(r io.ReaderAt, size, partSize int64, parts bool) (string, []string, error) {
	whole := md5.New()
	if !parts {
		if _, err := io.Copy(whole, io.NewSectionReader(r, 0, size)); err != nil {
			return "", nil, err
		}
		return hex.EncodeToString(whole.Sum(nil)), nil, nil
	}
	var sums []string
	for off := int64(0); off < size; off += partSize {
		part := md5.New()
		if _, err := io.Copy(io.MultiWriter(whole, part), io.NewSectionReader(r, off, min(partSize, size-off))); err != nil {
			return "", nil, err
		}
		sums = append(sums, hex.EncodeToString(part.Sum(nil)))
	}
	return hex.EncodeToString(whole.Sum(nil)), sums, nil
}

// md5Of returns the hex MD5 of n bytes of r from off.
func md5Of(r io.ReaderAt, off, n int64) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, off, n)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// partSize is the part size for an object of size bytes: the configured one, raised to fit in 10,000 parts.
func (c *Client) partSize(size int64) int64 {
	ps := c.cfg.PartSize
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
	}
	return ps
}

type completedPart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

// putMultipart is CreateMultipartUpload, UploadPart in parallel, and CompleteMultipartUpload; any failure aborts
// the upload so that no parts are left to bill.
// partSums, when not nil, are the parts' MD5s, known already.
func (c *Client) putMultipart(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, sum string, partSums []string, h http.Header) (storage.Object, error) {
	var created struct {
		UploadID string `xml:"UploadId"`
	}
	err := c.doXML(ctx, &request{op: "create multipart upload", method: http.MethodPost, bucket: bucket, key: key,
		header: h, query: map[string]string{"uploads": ""}, objectOp: true}, &created)
	if err != nil {
		return storage.Object{}, err
	}
	if created.UploadID == "" {
		return storage.Object{}, fmt.Errorf("%s create multipart upload %s/%s: the answer has no UploadId", c.cfg.Kind, bucket, key)
	}
	id := created.UploadID
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if resp, err := c.do(actx, &request{op: "abort multipart upload", method: http.MethodDelete, bucket: bucket,
			key: key, query: map[string]string{"uploadId": id}, objectOp: true}); err == nil {
			resp.Body.Close()
		}
	}

	ps := c.partSize(size)
	n := int((size + ps - 1) / ps)
	parts := make([]completedPart, n)
	firstErr := storage.Parallel(ctx, c.cfg.PartConcurrency, n, func(ctx context.Context, i int) error {
		known := ""
		if i < len(partSums) {
			known = partSums[i]
		}
		etag, err := c.uploadPart(ctx, bucket, key, id, i+1, body, int64(i)*ps, min(ps, size-int64(i)*ps), known)
		if err != nil {
			return err
		}
		parts[i] = completedPart{PartNumber: i + 1, ETag: etag}
		return nil
	})
	if firstErr != nil {
		abort()
		return storage.Object{}, firstErr
	}

	var b bytes.Buffer
	b.WriteString(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for _, p := range parts {
		fmt.Fprintf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", p.PartNumber, xmlEscape(`"`+p.ETag+`"`))
	}
	b.WriteString("</CompleteMultipartUpload>")
	r := &request{op: "complete multipart upload", method: http.MethodPost, bucket: bucket, key: key,
		query: map[string]string{"uploadId": id}, objectOp: true}
	setXMLBody(r, b.Bytes())
	var done struct {
		ETag string `xml:"ETag"`
	}
	if err := c.doXML(ctx, r, &done); err != nil {
		abort()
		return storage.Object{}, err
	}
	return storage.Object{Key: key, Size: size, ETag: strings.Trim(done.ETag, `"`), MD5: sum, Modified: c.cfg.Now()}, nil
}

// uploadPart is UploadPart of n bytes from off, with the part's Content-MD5 (sum, or computed when ""); it
// returns the part's ETag.
func (c *Client) uploadPart(ctx context.Context, bucket, key, id string, number int, body io.ReaderAt, off, n int64, sum string) (string, error) {
	if sum == "" {
		var err error
		if sum, err = md5Of(body, off, n); err != nil {
			return "", fmt.Errorf("%s upload part %d of %s/%s: read the content: %w", c.cfg.Kind, number, bucket, key, err)
		}
	}
	raw, _ := hex.DecodeString(sum)
	h := http.Header{}
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(raw))
	resp, err := c.do(ctx, &request{op: "upload part", method: http.MethodPut, bucket: bucket, key: key, header: h,
		query: map[string]string{"partNumber": itoa(number), "uploadId": id}, size: n, payloadHash: unsignedPayload,
		objectOp: true, body: func() io.Reader { return io.NewSectionReader(body, off, n) }})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	if etag == "" {
		return "", fmt.Errorf("%s upload part %d of %s/%s: the answer has no ETag", c.cfg.Kind, number, bucket, key)
	}
	return etag, nil
}

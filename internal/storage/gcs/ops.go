package gcs

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/storage"
)

// BucketExists is buckets.get.
func (c *Client) BucketExists(ctx context.Context, bucket string) (bool, error) {
	err := c.doJSON(ctx, &request{op: "get bucket", method: http.MethodGet, bucket: bucket,
		url: c.apiURL(false, bucketPath(bucket), nil)}, nil, nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNoSuchBucket):
		return false, nil
	}
	return false, err
}

// CreateBucket is buckets.insert in the project (and location). A name in use is told apart as GCS words it,
// else by whether these credentials can read the bucket: if they can, it is theirs.
func (c *Client) CreateBucket(ctx context.Context, bucket string) error {
	if err := storage.ValidateBucketName(storage.GCS, bucket); err != nil {
		return err
	}
	in := map[string]string{"name": bucket}
	if c.cfg.Location != "" {
		in["location"] = c.cfg.Location
	}
	q := url.Values{"project": {c.cfg.Project}}
	err := c.doJSON(ctx, &request{op: "create bucket", method: http.MethodPost, bucket: bucket,
		url: c.apiURL(false, "b", q)}, in, nil)
	var se *storage.Error
	if errors.As(err, &se) && se.Status == http.StatusConflict && se.Kind == nil {
		se.Kind = storage.ErrBucketTaken
		if ok, _ := c.BucketExists(ctx, bucket); ok {
			se.Kind = storage.ErrBucketOwnedByYou
		}
	}
	return err
}

// MarkBucket is buckets.patch setting the label storage.ManagedLabel=true.
func (c *Client) MarkBucket(ctx context.Context, bucket string) error {
	in := map[string]any{"labels": map[string]string{storage.ManagedLabel: "true"}}
	return c.doJSON(ctx, &request{op: "label bucket", method: http.MethodPatch, bucket: bucket,
		url: c.apiURL(false, bucketPath(bucket), nil)}, in, nil)
}

// BucketMarked is buckets.get: whether the bucket has the label storage.ManagedLabel=true.
func (c *Client) BucketMarked(ctx context.Context, bucket string) (bool, error) {
	var out struct {
		Labels map[string]string `json:"labels"`
	}
	if err := c.doJSON(ctx, &request{op: "get bucket", method: http.MethodGet, bucket: bucket,
		url: c.apiURL(false, bucketPath(bucket), nil)}, nil, &out); err != nil {
		return false, err
	}
	return out.Labels[storage.ManagedLabel] == "true", nil
}

// DeleteBucket is buckets.delete; force deletes the objects first.
func (c *Client) DeleteBucket(ctx context.Context, bucket string, force bool) error {
	if force {
		var keys []string
		if err := c.List(ctx, bucket, "", func(o storage.Object) error {
			keys = append(keys, o.Key)
			return nil
		}); err != nil {
			return err
		}
		if err := c.DeleteObjects(ctx, bucket, keys); err != nil {
			return err
		}
	}
	return c.doJSON(ctx, &request{op: "delete bucket", method: http.MethodDelete, bucket: bucket,
		url: c.apiURL(false, bucketPath(bucket), nil)}, nil, nil)
}

// object is the JSON API's object resource, as far as stix reads it.
type object struct {
	Name     string            `json:"name"`
	Size     string            `json:"size"`
	MD5Hash  string            `json:"md5Hash"`
	ETag     string            `json:"etag"`
	Updated  time.Time         `json:"updated"`
	Metadata map[string]string `json:"metadata"`
}

func (o object) toStorage() storage.Object {
	size, _ := strconv.ParseInt(o.Size, 10, 64)
	out := storage.Object{Key: o.Name, Size: size, ETag: o.ETag, Modified: o.Updated, Metadata: map[string]string{}}
	if raw, err := base64.StdEncoding.DecodeString(o.MD5Hash); err == nil && len(raw) == md5.Size {
		out.MD5 = hex.EncodeToString(raw)
	}
	for k, v := range o.Metadata {
		out.Metadata[strings.ToLower(k)] = v
	}
	if out.MD5 == "" { // a composite object states no MD5
		out.MD5 = strings.ToLower(out.Metadata[storage.MetaMD5])
	}
	return out
}

// List is objects.list, every page.
func (c *Client) List(ctx context.Context, bucket, prefix string, fn func(storage.Object) error) error {
	token := ""
	for {
		q := url.Values{"maxResults": {strconv.Itoa(c.cfg.PageSize)}}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if token != "" {
			q.Set("pageToken", token)
		}
		var out struct {
			Items         []object `json:"items"`
			NextPageToken string   `json:"nextPageToken"`
		}
		if err := c.doJSON(ctx, &request{op: "list", method: http.MethodGet, bucket: bucket,
			url: c.apiURL(false, bucketPath(bucket)+"/o", q)}, nil, &out); err != nil {
			return err
		}
		for _, o := range out.Items {
			if err := fn(o.toStorage()); err != nil {
				return err
			}
		}
		if out.NextPageToken == "" {
			return nil
		}
		token = out.NextPageToken
	}
}

// Stat is objects.get.
func (c *Client) Stat(ctx context.Context, bucket, key string) (storage.Object, error) {
	var o object
	if err := c.doJSON(ctx, &request{op: "stat", method: http.MethodGet, bucket: bucket, key: key, objectOp: true,
		url: c.apiURL(false, objectPath(bucket, key), nil)}, nil, &o); err != nil {
		return storage.Object{}, err
	}
	return o.toStorage(), nil
}

// Get is objects.get with alt=media. The attributes are the answer's headers' (size, x-goog-hash md5,
// x-goog-meta-*).
func (c *Client) Get(ctx context.Context, bucket, key string) (io.ReadCloser, storage.Object, error) {
	resp, err := c.do(ctx, &request{op: "get", method: http.MethodGet, bucket: bucket, key: key, objectOp: true,
		url: c.apiURL(false, objectPath(bucket, key), url.Values{"alt": {"media"}})})
	if err != nil {
		return nil, storage.Object{}, err
	}
	o := storage.Object{Key: key, Size: resp.ContentLength, ETag: resp.Header.Get("ETag"), Metadata: map[string]string{}}
	for _, h := range resp.Header.Values("X-Goog-Hash") {
		for _, part := range strings.Split(h, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "md5="); ok {
				if raw, err := base64.StdEncoding.DecodeString(v); err == nil && len(raw) == md5.Size {
					o.MD5 = hex.EncodeToString(raw)
				}
			}
		}
	}
	for name, vals := range resp.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-goog-meta-") && len(vals) > 0 {
			o.Metadata[strings.TrimPrefix(l, "x-goog-meta-")] = vals[0]
		}
	}
	if o.MD5 == "" {
		o.MD5 = strings.ToLower(o.Metadata[storage.MetaMD5])
	}
	return resp.Body, o, nil
}

// deleteWorkers is how many objects.delete calls run at once (the JSON API deletes one object a call).
const deleteWorkers = 16

// DeleteObjects is objects.delete for every key, deleteWorkers at a time.
func (c *Client) DeleteObjects(ctx context.Context, bucket string, keys []string) error {
	return storage.Parallel(ctx, deleteWorkers, len(keys), func(ctx context.Context, i int) error {
		k := keys[i]
		err := c.doJSON(ctx, &request{op: "delete", method: http.MethodDelete, bucket: bucket, key: k, objectOp: true,
			url: c.apiURL(false, objectPath(bucket, k), nil)}, nil, nil)
		if err != nil && !errors.Is(err, storage.ErrNoSuchKey) {
			return err
		}
		return nil
	})
}

// Put is objects.insert: a multipart upload (metadata and content in one request), or a resumable upload in
// chunks for objects of ResumableThreshold bytes or more. The content's MD5 goes in the metadata (md5Hash), so
// GCS refuses a body that changed on the way.
func (c *Client) Put(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, opts storage.PutOptions) (storage.Object, error) {
	sum := opts.MD5
	if sum == "" {
		h := md5.New()
		if _, err := io.Copy(h, io.NewSectionReader(body, 0, size)); err != nil {
			return storage.Object{}, fmt.Errorf("gcs put %s/%s: read the content: %w", bucket, key, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	raw, err := hex.DecodeString(sum)
	if err != nil || len(raw) != md5.Size {
		return storage.Object{}, fmt.Errorf("gcs put %s/%s: MD5 %q is not hex", bucket, key, sum)
	}
	meta := map[string]string{storage.MetaMD5: sum}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	resource := map[string]any{"name": key, "md5Hash": base64.StdEncoding.EncodeToString(raw), "metadata": meta,
		"contentType": ct}
	var out object
	if size >= c.cfg.ResumableThreshold {
		err = c.putResumable(ctx, bucket, key, body, size, ct, resource, &out)
	} else {
		err = c.putMultipart(ctx, bucket, key, body, size, ct, resource, &out)
	}
	if err != nil {
		return storage.Object{}, err
	}
	return out.toStorage(), nil
}

// putMultipart sends the resource and the content as one multipart/related request.
func (c *Client) putMultipart(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, ct string, resource map[string]any, out *object) error {
	meta, err := json.Marshal(resource)
	if err != nil {
		return err
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	boundary := "stix" + hex.EncodeToString(b[:])
	head := []byte("--" + boundary + "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + string(meta) +
		"\r\n--" + boundary + "\r\nContent-Type: " + ct + "\r\n\r\n")
	tail := []byte("\r\n--" + boundary + "--\r\n")
	h := http.Header{}
	h.Set("Content-Type", "multipart/related; boundary="+boundary)
	r := &request{op: "put", method: http.MethodPost, bucket: bucket, key: key, header: h, // a 404: no bucket
		url:  c.apiURL(true, bucketPath(bucket)+"/o", url.Values{"uploadType": {"multipart"}}),
		size: int64(len(head)) + size + int64(len(tail)),
		body: func() io.Reader {
			return io.MultiReader(bytes.NewReader(head), io.NewSectionReader(body, 0, size), bytes.NewReader(tail))
		}}
	return c.doJSON(ctx, r, nil, out)
}

// putResumable starts a resumable upload session and sends the content in chunks, each retried on its own;
// after a 308 the next chunk starts where the server says it has the content up to.
func (c *Client) putResumable(ctx context.Context, bucket, key string, body io.ReaderAt, size int64, ct string, resource map[string]any, out *object) error {
	h := http.Header{}
	h.Set("X-Upload-Content-Type", ct)
	h.Set("X-Upload-Content-Length", strconv.FormatInt(size, 10))
	start := &request{op: "start resumable upload", method: http.MethodPost, bucket: bucket, key: key, // a 404: no bucket
		header: h, url: c.apiURL(true, bucketPath(bucket)+"/o", url.Values{"uploadType": {"resumable"}})}
	data, err := json.Marshal(resource)
	if err != nil {
		return err
	}
	start.body = func() io.Reader { return bytes.NewReader(data) }
	start.size = int64(len(data))
	start.header.Set("Content-Type", "application/json; charset=UTF-8")
	resp, err := c.do(ctx, start)
	if err != nil {
		return err
	}
	resp.Body.Close()
	session := resp.Header.Get("Location")
	if session == "" {
		return fmt.Errorf("gcs start resumable upload %s/%s: the answer has no Location", bucket, key)
	}
	for off := int64(0); off < size; {
		n := min(c.cfg.ChunkSize, size-off)
		h := http.Header{}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size))
		from := off
		resp, err := c.do(ctx, &request{op: "upload chunk", method: http.MethodPut, bucket: bucket, key: key, objectOp: true,
			url: session, header: h, size: n, ok: []int{http.StatusPermanentRedirect},
			body: func() io.Reader { return io.NewSectionReader(body, from, n) }})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusPermanentRedirect {
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				return fmt.Errorf("gcs put %s/%s: malformed answer: %w", bucket, key, err)
			}
			return nil
		}
		resp.Body.Close()
		// "Range: bytes=0-N" is what the session holds; without it, nothing.
		next := int64(0)
		if _, last, ok := strings.Cut(strings.TrimPrefix(resp.Header.Get("Range"), "bytes="), "-"); ok {
			if v, err := strconv.ParseInt(last, 10, 64); err == nil {
				next = v + 1
			}
		}
		if next <= off {
			return fmt.Errorf("gcs put %s/%s: the upload session made no progress at byte %d", bucket, key, off)
		}
		off = next
	}
	return fmt.Errorf("gcs put %s/%s: the upload session holds all %d bytes but did not finish", bucket, key, size)
}

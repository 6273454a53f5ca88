package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/transport/treesync"
)

// Defaults of PushOptions.
const (
	DefaultParallel      = 8
	DefaultChunkBytes    = 8 << 20
	DefaultRetries       = 5
	DefaultRetryDeadline = 2 * time.Minute
	DefaultBackoff       = 200 * time.Millisecond
	maxBackoff           = 5 * time.Second
)

// PushOptions tune Push. The zero value uploads everything under the path with the defaults above.
type PushOptions struct {
	// Ignore leaves out what the tree's .skyignore files say, or its .gitignore files when the root has no
	// .skyignore (SkyPilot's workdir rule). Set it for a workdir; leave it off for a file mount, as the local
	// sync does.
	Ignore bool
	// Parallel bounds the files hashed and blobs sent at once.
	Parallel int
	// ChunkBytes is the most bytes one request carries; larger files go in several requests.
	ChunkBytes int64
	// Retries bounds the attempts after a failed request for one blob (a dropped connection, a 5xx).
	Retries int
	// RetryDeadline bounds the time one blob may take across its retries.
	RetryDeadline time.Duration
	// Backoff is the wait before the first retry; it doubles at each retry, up to 5s.
	Backoff time.Duration
}

func (o PushOptions) withDefaults() PushOptions {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.RetryDeadline <= 0 {
		o.RetryDeadline = DefaultRetryDeadline
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	return o
}

// Push uploads the file or directory at localPath to the upload API at baseURL (the server's
// ".../api/v1/uploads") through hc, and returns the tree ID that Resolve turns into a path on the server.
// Only blobs the server lacks are sent; a blob cut off by a dropped connection resumes where the server's copy
// ends. An error response from the server is returned as *Error.
func Push(ctx context.Context, baseURL string, hc *http.Client, localPath string, opts PushOptions) (string, error) {
	opts = opts.withDefaults()
	if hc == nil {
		hc = http.DefaultClient
	}
	c := &client{base: strings.TrimRight(baseURL, "/"), hc: hc, opts: opts}
	m, files, err := buildManifest(ctx, localPath, opts)
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", localPath, err)
	}
	id, err := c.push(ctx, m, files)
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", localPath, err)
	}
	return id, nil
}

// client talks to one upload API.
type client struct {
	base string
	hc   *http.Client
	opts PushOptions
}

// push sends the blobs the server lacks and commits m. A commit that finds blobs missing (removed meanwhile)
// sends them and commits once more.
func (c *client) push(ctx context.Context, m *Manifest, files map[string]string) (string, error) {
	body, _ := m.canonical()
	var miss MissingResponse
	if err := c.postJSON(ctx, "/missing", body, &miss); err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		if err := c.sendBlobs(ctx, miss.Missing, m, files); err != nil {
			return "", err
		}
		var cr CommitResponse
		err := c.postJSON(ctx, "/trees", body, &cr)
		var ue *Error
		if err == nil {
			return cr.Tree, nil
		}
		if !errors.As(err, &ue) || ue.Code != "missing_blobs" || attempt > 0 {
			return "", err
		}
		miss.Missing = miss.Missing[:0]
		for _, h := range ue.Missing {
			miss.Missing = append(miss.Missing, MissingBlob{SHA256: h})
		}
	}
}

// sendBlobs uploads the missing blobs, Parallel at a time; the first error stops the rest.
func (c *client) sendBlobs(ctx context.Context, missing []MissingBlob, m *Manifest, files map[string]string) error {
	sizes := map[string]int64{}
	for _, e := range m.Entries {
		if e.Type == TypeFile {
			sizes[e.SHA256] = e.Size
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, c.opts.Parallel)
	var wg sync.WaitGroup
	for _, mb := range missing {
		if _, ok := files[mb.SHA256]; !ok {
			return fmt.Errorf("the server asked for blob %s, which no file of this upload has", mb.SHA256)
		}
	}
	for _, mb := range missing {
		src := files[mb.SHA256]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.sendBlob(ctx, src, mb.SHA256, sizes[mb.SHA256], mb.Offset); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// sendBlob uploads the file src as blob sum of size bytes, starting at offset, in chunks. A failed request (a
// dropped connection, a 5xx) is retried with backoff, from the offset the server then reports, at most Retries
// times and within RetryDeadline.
func (c *client) sendBlob(ctx context.Context, src, sum string, size, offset int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	deadline := time.Now().Add(c.opts.RetryDeadline)
	failures := 0
	resync := false // ask the server for its offset before the next chunk
	for {
		var done bool
		var err error
		if resync {
			offset, done, err = c.head(ctx, sum)
		}
		if err == nil && !done {
			offset, done, err = c.patch(ctx, f, sum, size, offset)
		}
		if err == nil {
			if done {
				return nil
			}
			resync = false
			continue
		}
		var ue *Error
		if errors.As(err, &ue) && ue.Code == "hash_mismatch" {
			return fmt.Errorf("%s: %w", src, err)
		}
		if ue != nil && ue.Status < 500 && ue.Code != "offset_mismatch" {
			return err
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: gave up after %s: %w", src, c.opts.RetryDeadline, err)
		}
		resync = true
		// Another upload of the same blob moving ahead is progress, not a failure: resume from its offset.
		if ue != nil && ue.Code == "offset_mismatch" {
			continue
		}
		failures++
		if failures > c.opts.Retries {
			return fmt.Errorf("%s: gave up after %d retries: %w", src, c.opts.Retries, err)
		}
		if err := c.wait(ctx, failures); err != nil {
			return err
		}
	}
}

// wait sleeps before retry number n (from 1), or until ctx ends.
func (c *client) wait(ctx context.Context, n int) error {
	d := c.opts.Backoff << (n - 1)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// patch sends one chunk of blob sum starting at offset. It returns the server's new offset and whether the
// blob is stored whole.
func (c *client) patch(ctx context.Context, f *os.File, sum string, size, offset int64) (int64, bool, error) {
	// A server holding more than the file has is told so by an empty chunk at the end; it starts the blob over.
	offset = min(offset, size)
	n := min(size-offset, c.opts.ChunkBytes)
	var body io.Reader = http.NoBody // an empty file: a request that says it has no body
	if n > 0 {
		body = io.NewSectionReader(f, offset, n)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.base+"/blobs/"+sum, body)
	if err != nil {
		return 0, false, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(headerOffset, fmt.Sprint(offset))
	req.Header.Set(headerLength, fmt.Sprint(size))
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, false, readError(resp)
	}
	var next int64
	if _, err := fmt.Sscan(resp.Header.Get(headerOffset), &next); err != nil {
		return 0, false, fmt.Errorf("blob %s: the server's reply has no %s", sum, headerOffset)
	}
	return next, resp.Header.Get(headerComplete) == "1", nil
}

// head asks how much of blob sum the server holds.
func (c *client) head(ctx context.Context, sum string) (int64, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.base+"/blobs/"+sum, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, false, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		return 0, false, fmt.Errorf("blob %s: HEAD answered %s", sum, resp.Status)
	}
	var off int64
	if _, err := fmt.Sscan(resp.Header.Get(headerOffset), &off); err != nil {
		return 0, false, fmt.Errorf("blob %s: the server's reply has no %s", sum, headerOffset)
	}
	return off, resp.Header.Get(headerComplete) == "1", nil
}

// postJSON POSTs body to path and decodes the reply into out.
func (c *client) postJSON(ctx context.Context, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("POST %s: bad reply: %w", path, err)
	}
	return nil
}

// readError turns an error response into *Error; a body that is not one keeps its status and first bytes.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{}
	if json.Unmarshal(b, e) != nil || e.Code == "" {
		e = &Error{Code: "http", Message: fmt.Sprintf("%s %s: %s: %s", resp.Request.Method, resp.Request.URL.Path,
			resp.Status, strings.TrimSpace(string(b)))}
	}
	e.Status = resp.StatusCode
	return e
}

// buildManifest scans localPath and hashes its files, Parallel at a time. files maps each sha256 to one local
// file that holds it.
func buildManifest(ctx context.Context, localPath string, opts PushOptions) (*Manifest, map[string]string, error) {
	src, err := treesync.ScanSource(localPath, opts.Ignore)
	if err != nil {
		return nil, nil, err
	}
	m := &Manifest{Version: ManifestVersion, Kind: KindDir}
	var tree []treesync.Entry
	if src.IsDir() {
		tree = src.Tree
	} else {
		m.Kind = KindFile
		e, ok := treesync.EntryFromInfo(filepath.Base(src.Path), src.Info, "")
		if !ok || !src.Info.Mode().IsRegular() {
			return nil, nil, fmt.Errorf("%s is neither a regular file nor a directory", src.Path)
		}
		tree = []treesync.Entry{e}
		src.Path = filepath.Dir(src.Path)
	}
	m.Entries = make([]Entry, len(tree))
	sem := make(chan struct{}, opts.Parallel)
	errs := make([]error, len(tree))
	var wg sync.WaitGroup
	for i, te := range tree {
		e := Entry{Path: te.Path, Mode: uint32(te.Mode.Perm())}
		switch {
		case te.IsDir():
			e.Type = TypeDir
		case te.IsLink():
			e.Type, e.Mode, e.Target = TypeSymlink, 0, te.Link
		default:
			e.Type, e.Size, e.MTime = TypeFile, te.Size, te.ModTime.UnixNano()
		}
		m.Entries[i] = e
		if e.Type == TypeFile {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					return
				}
				m.Entries[i].SHA256, m.Entries[i].Size, errs[i] = hashLocal(filepath.Join(src.Path, filepath.FromSlash(te.Path)))
			}()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	files := make(map[string]string)
	for _, e := range m.Entries {
		if e.Type == TypeFile {
			files[e.SHA256] = filepath.Join(src.Path, filepath.FromSlash(e.Path))
		}
	}
	return m, files, nil
}

// hashLocal returns the sha256 and size of the file at p, as read now.
func hashLocal(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	hw := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	// Hide *os.File's WriteTo, which would allocate a buffer of its own per file.
	n, err := io.CopyBuffer(hw, struct{ io.Reader }{f}, *buf)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(hw.Sum(nil)), n, nil
}

// copyBufs holds the buffers that hashing reads files through: a push hashes thousands of small files.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

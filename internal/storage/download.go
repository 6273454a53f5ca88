package storage

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Download copies the objects of bucket under prefix into destDir (created if need be), key "prefix/a/b" to
// destDir/a/b, only those that changed: a local file of the same size and MD5 is kept. Each file is written to a
// temporary file beside it, checked against the size and the MD5 the store states, and renamed into place, so a
// reader never sees half a file. Keys that would land outside destDir (absolute, '..', or through a symlink in
// destDir) refuse the whole download before anything is written. Local files with no object are left alone.
func (s Sync) Download(ctx context.Context, st Store, bucket, prefix, destDir string) (Stats, error) {
	prefix = normPrefix(prefix)
	var stats Stats
	var objects []Object
	var bad []string
	if err := st.List(ctx, bucket, prefix, func(o Object) error {
		rel := strings.TrimPrefix(o.Key, prefix)
		if strings.HasSuffix(rel, "/") && o.Size == 0 {
			rel = strings.TrimSuffix(rel, "/") // a "directory" marker some tools write
			if rel == "" {
				return nil
			}
		}
		if err := safeRel(rel); err != nil {
			bad = append(bad, fmt.Sprintf("%q (%v)", o.Key, err))
			return nil
		}
		objects = append(objects, o)
		return nil
	}); err != nil {
		return stats, err
	}
	if len(bad) > 0 {
		return stats, fmt.Errorf("download %s://%s/%s: refused: %d object key(s) would be written outside %s: %s; "+
			"nothing was downloaded (rename those objects, or download a prefix without them)",
			st.Kind().Scheme(), bucket, prefix, len(bad), destDir, strings.Join(bad[:min(len(bad), 5)], ", "))
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return stats, fmt.Errorf("download: %w", err)
	}
	dest, err := filepath.Abs(destDir)
	if err != nil {
		return stats, err
	}
	stats.Files = len(objects)
	dirs := &dirMaker{root: dest, made: map[string]bool{}}
	var sent, skipped, bytes, skippedBytes atomic.Int64
	err = s.parallel(ctx, len(objects), func(ctx context.Context, i int) error {
		o := objects[i]
		rel := strings.TrimPrefix(o.Key, prefix)
		if strings.HasSuffix(rel, "/") {
			return dirs.make(strings.TrimSuffix(rel, "/"))
		}
		if err := dirs.make(filepath.Dir(filepath.FromSlash(rel))); err != nil {
			return err
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if same, err := localSame(ctx, st, bucket, o, target); err != nil {
			return err
		} else if same {
			skipped.Add(1)
			skippedBytes.Add(o.Size)
			return nil
		}
		n, err := fetch(ctx, st, bucket, o.Key, target)
		if err != nil {
			return err
		}
		sent.Add(1)
		bytes.Add(n)
		return nil
	})
	stats.Transferred, stats.Skipped = int(sent.Load()), int(skipped.Load())
	stats.Bytes, stats.SkippedBytes = bytes.Load(), skippedBytes.Load()
	return stats, err
}

// localSame reports whether target is a regular file with o's size and MD5.
func localSame(ctx context.Context, st Store, bucket string, o Object, target string) (bool, error) {
	fi, err := os.Lstat(target)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != o.Size {
		return false, nil
	}
	f, err := os.Open(target)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	sum, err := md5File(f, o.Size)
	if err != nil {
		return false, nil
	}
	return sameAs(ctx, st, bucket, o, sum)
}

// fetch streams an object into target through a temporary file in its directory, checked against the size and
// MD5 the store gives, and renamed into place. It returns the bytes written.
func fetch(ctx context.Context, st Store, bucket, key, target string) (int64, error) {
	rc, o, err := st.Get(ctx, bucket, key)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", key, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(target), ".stix-download-*")
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", key, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", key, err)
	}
	if o.Size >= 0 && n != o.Size {
		return 0, fmt.Errorf("download %s: got %d bytes of %d", key, n, o.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); o.MD5 != "" && sum != o.MD5 {
		return 0, fmt.Errorf("download %s: the content's MD5 is %s, the store states %s", key, sum, o.MD5)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("download %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return 0, fmt.Errorf("download %s: %w", key, err)
	}
	done = true
	return n, nil
}

// dirMaker makes directories under root, refusing to go through a symlink or a file (a key must not land
// outside root by way of what is already there).
type dirMaker struct {
	root string
	mu   sync.Mutex
	made map[string]bool
}

// make makes root/rel (rel slash- or OS-separated, "." for root itself).
func (d *dirMaker) make(rel string) error {
	rel = filepath.Clean(filepath.FromSlash(rel))
	if rel == "." {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		if d.made[cur] {
			continue
		}
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("download: %w", err)
			}
		case err != nil:
			return fmt.Errorf("download: %w", err)
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("download: refused to write through the symlink %s (it may lead outside %s): remove it", cur, d.root)
		case !fi.IsDir():
			return fmt.Errorf("download: %s is a file, and objects want it to be a directory", cur)
		}
		d.made[cur] = true
	}
	return nil
}

// DownloadObject copies one object to the file dest (its parent directories created), unless dest already has
// its size and MD5 — what a file_mounts entry whose URI names an object (s3://bucket/file.txt) needs.
func DownloadObject(ctx context.Context, st Store, bucket, key, dest string) (Stats, error) {
	stats := Stats{Files: 1}
	o, err := st.Stat(ctx, bucket, key)
	if err != nil {
		return stats, fmt.Errorf("download: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return stats, fmt.Errorf("download: %w", err)
	}
	if same, err := localSame(ctx, st, bucket, o, dest); err != nil {
		return stats, err
	} else if same {
		stats.Skipped, stats.SkippedBytes = 1, o.Size
		return stats, nil
	}
	n, err := fetch(ctx, st, bucket, key, dest)
	if err != nil {
		return stats, err
	}
	stats.Transferred, stats.Bytes = 1, n
	return stats, nil
}

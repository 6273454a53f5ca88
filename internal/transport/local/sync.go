package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/treesync"
)

// Sync makes the remote path dst a copy of the local path src (a directory's contents, or one file).
func (t *Transport) Sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	dstPath := t.Resolve(dst)
	st, err := t.sync(ctx, src, dstPath, opts)
	if err != nil {
		return st, fmt.Errorf("sync %s to %s: %w", src, dstPath, err)
	}
	return st, nil
}

func (t *Transport) sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	source, err := treesync.ScanSource(src, opts.Ignore)
	if err != nil {
		return transport.SyncStats{}, err
	}
	src = source.Path
	if !source.IsDir() {
		return syncFile(ctx, src, dst, source.Info)
	}
	if within(src, dst) {
		// Deleting what src lacks from dst would delete src itself.
		return transport.SyncStats{}, errors.New("the source lies inside the destination")
	}
	m, srcTree := source.Ignore, source.Tree
	srcTree = t.dropExcluded(src, srcTree, dst)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return transport.SyncStats{}, err
	}
	// The destination is listed with the source's patterns so that ignored files there are neither compared nor
	// deleted, as rsync --delete without --delete-excluded.
	dstTree, err := treesync.Scan(dst, treesync.ScanOptions{Ignore: m})
	if err != nil {
		return transport.SyncStats{}, err
	}
	plan := treesync.Diff(srcTree, dstTree, treesync.Options{Delete: opts.Delete})
	if err := apply(ctx, src, dst, plan); err != nil {
		return transport.SyncStats{}, err
	}
	// The root takes src's permissions last, like its subdirectories: a read-only src must not stop the copy.
	if err := os.Chmod(dst, source.Info.Mode().Perm()); err != nil {
		return transport.SyncStats{}, err
	}
	return transport.SyncStats{Copied: len(plan.Copy), Skipped: plan.Skipped, Deleted: plan.Deleted, Bytes: plan.Bytes}, nil
}

// dropExcluded leaves out of a source tree the destination and the transport's excluded directories when they
// lie inside the source, so that a sync never copies its own output.
func (t *Transport) dropExcluded(src string, tree []treesync.Entry, dst string) []treesync.Entry {
	var skip []string
	for _, dir := range append([]string{dst}, t.exclude...) {
		if rel, err := filepath.Rel(src, dir); err == nil && within(dir, src) && rel != "." {
			skip = append(skip, filepath.ToSlash(rel))
		}
	}
	if len(skip) == 0 {
		return tree
	}
	out := tree[:0:0]
	for _, e := range tree {
		if !skipped(e.Path, skip) {
			out = append(out, e)
		}
	}
	return out
}

func skipped(p string, skip []string) bool {
	for _, s := range skip {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// within reports whether path p is dir or lies below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// apply carries out a plan from the local tree src onto the local tree dst.
func apply(ctx context.Context, src, dst string, plan treesync.Plan) error {
	at := func(rel string) string { return filepath.Join(dst, filepath.FromSlash(rel)) }
	for _, p := range plan.Replace {
		if err := os.RemoveAll(at(p)); err != nil {
			return err
		}
	}
	for _, e := range plan.Delete {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := os.Remove(at(e.Path))
		if err != nil && e.IsDir() && errors.Is(err, syscall.ENOTEMPTY) {
			continue // it holds ignored files, which a sync keeps
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	// Directories stay writable while files go in; their own permissions are set last.
	for _, e := range plan.Mkdir {
		if err := os.Mkdir(at(e.Path), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Chmod(at(e.Path), e.Mode.Perm()|0o700); err != nil {
			return err
		}
	}
	for _, e := range plan.Copy {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := copyEntry(src, at(e.Path), e); err != nil {
			return err
		}
	}
	for i := len(plan.Mkdir) - 1; i >= 0; i-- {
		e := plan.Mkdir[i]
		if err := os.Chmod(at(e.Path), e.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry writes one file or symlink of the source tree at dst.
func copyEntry(src, dst string, e treesync.Entry) error {
	if e.IsLink() {
		if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return os.Symlink(e.Link, dst)
	}
	_, err := writeFileAtomic(filepath.Join(src, filepath.FromSlash(e.Path)), dst, e.Mode.Perm(), e.ModTime)
	return err
}

// syncFile copies one file to the path dst unless dst already has the same size, time and mode.
func syncFile(ctx context.Context, src, dst string, fi fs.FileInfo) (transport.SyncStats, error) {
	if err := ctx.Err(); err != nil {
		return transport.SyncStats{}, err
	}
	s, _ := treesync.EntryFromInfo(filepath.Base(dst), fi, "")
	if di, err := os.Lstat(dst); err == nil {
		if d, ok := treesync.EntryFromInfo(s.Path, di, ""); ok && treesync.Unchanged(s, d, 0) {
			return transport.SyncStats{Skipped: 1}, nil
		}
		if di.IsDir() {
			return transport.SyncStats{}, fmt.Errorf("%s is a directory; give the file's own path as destination", dst)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return transport.SyncStats{}, err
	}
	n, err := writeFileAtomic(src, dst, s.Mode.Perm(), s.ModTime)
	if err != nil {
		return transport.SyncStats{}, err
	}
	return transport.SyncStats{Copied: 1, Bytes: n}, nil
}

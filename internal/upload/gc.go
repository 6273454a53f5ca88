package upload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Collected counts what Collect removed.
type Collected struct {
	Trees, Blobs, Partials int
	// Bytes are the bytes of the blobs and partial uploads removed (roots, copies of blobs, not counted).
	Bytes int64
}

// Collect removes from the upload directory dir what no one needs any more: every committed tree not in keep and
// last committed before cutoff (its manifest and its root written out by Resolve); then every blob that no
// remaining tree names and that was stored before cutoff; partial uploads untouched since cutoff (abandoned by
// their clients); and leftovers of interrupted work in tmp/. keep holds the trees in use (named by live
// requests, or pinned by their users): they and their blobs stay whatever their age.
//
// A commit of a tree that exists already marks it committed again, so a client that pushes an unchanged tree
// and then submits its request finds the tree. A client whose push raced a removal is answered missing_blobs at
// commit and sends those blobs again (Push does so by itself). Blobs are removed under their write lock, so
// no upload of a blob is cut while it is removed.
func Collect(ctx context.Context, dir string, keep map[string]bool, cutoff time.Time) (Collected, error) {
	var out Collected
	st, err := newStore(dir)
	if err != nil {
		return out, err
	}
	trees, err := os.ReadDir(filepath.Join(dir, "trees"))
	if err != nil {
		return out, err
	}
	used := map[string]bool{} // blobs of the trees that stay
	for _, e := range trees {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validHash(id) {
			continue
		}
		if keep[id] || !olderThan(e, cutoff) {
			m, err := st.loadTree(id)
			if err != nil {
				return out, fmt.Errorf("collect uploads: %w", err)
			}
			for _, en := range m.Entries {
				if en.Type == TypeFile {
					used[en.SHA256] = true
				}
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		// The root first (and the links to it): a tree whose manifest is gone is not found, not half there.
		if err := st.removeDir(st.namesPath(id)); err != nil {
			return out, fmt.Errorf("collect upload %s: %w", id, err)
		}
		if err := st.removeDir(st.rootPath(id)); err != nil {
			return out, fmt.Errorf("collect upload %s: %w", id, err)
		}
		if err := os.Remove(st.treePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return out, fmt.Errorf("collect upload %s: %w", id, err)
		}
		out.Trees++
	}
	if err := st.collectBlobs(ctx, used, cutoff, &out); err != nil {
		return out, err
	}
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		return out, err
	}
	for _, e := range tmp {
		if olderThan(e, cutoff) {
			if err := st.removeDir(filepath.Join(dir, "tmp", e.Name())); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// collectBlobs removes the complete blobs not in used and the partial uploads, each only when older than cutoff
// and under its write lock.
func (s *store) collectBlobs(ctx context.Context, used map[string]bool, cutoff time.Time, out *Collected) error {
	var candidates []string // "blobs/ab/<h>" or "partial/<h>"
	shards, err := os.ReadDir(filepath.Join(s.dir, "blobs"))
	if err != nil {
		return err
	}
	for _, sh := range shards {
		blobs, err := os.ReadDir(filepath.Join(s.dir, "blobs", sh.Name()))
		if err != nil {
			return err
		}
		for _, b := range blobs {
			if validHash(b.Name()) && !used[b.Name()] && olderThan(b, cutoff) {
				candidates = append(candidates, s.blobPath(b.Name()))
			}
		}
	}
	partials, err := os.ReadDir(filepath.Join(s.dir, "partial"))
	if err != nil {
		return err
	}
	for _, p := range partials {
		if validHash(p.Name()) && olderThan(p, cutoff) {
			candidates = append(candidates, s.partialPath(p.Name()))
		}
	}
	for _, p := range candidates {
		h := filepath.Base(p)
		unlock, err := s.lock(ctx, h)
		if err != nil {
			return err
		}
		// Looked at again under the lock: an upload may have touched it since.
		fi, err := os.Stat(p)
		if err == nil && fi.ModTime().Before(cutoff) {
			err = os.Remove(p)
			if err == nil {
				out.Bytes += fi.Size()
				if strings.HasPrefix(p, filepath.Join(s.dir, "partial")) {
					out.Partials++
				} else {
					out.Blobs++
				}
			}
		}
		if uerr := unlock(); err == nil {
			err = uerr
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("collect blob %s: %w", h, err)
		}
	}
	return nil
}

// removeDir removes the directory p and everything below it, first moving it aside (so that it is gone at once
// for Resolve) and making its directories writable (a tree's directories keep the modes they were pushed with).
func (s *store) removeDir(p string) error {
	aside, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "gc-")
	if err != nil {
		return err
	}
	gone := filepath.Join(aside, "x")
	if err := os.Rename(p, gone); err != nil {
		os.Remove(aside)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	_ = filepath.WalkDir(gone, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(aside)
}

// olderThan reports whether e was last modified before cutoff; an entry that cannot be read is left alone.
func olderThan(e fs.DirEntry, cutoff time.Time) bool {
	fi, err := e.Info()
	return err == nil && fi.ModTime().Before(cutoff)
}

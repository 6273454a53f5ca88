package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stix-run/stix/internal/sqlitedb/filelock"
)

// store is the on-disk layout under one directory:
//
//	blobs/ab/abcd…   complete blobs, named by the sha256 of their bytes, read-only
//	partial/abcd…    blobs being uploaded; their size is the offset an upload resumes from
//	trees/<id>.json  committed manifests, in canonical encoding
//	roots/<id>/      trees materialized by Resolve
//	names/<id>/NAME  links to roots/<id> under the name a directory had on the client (ResolveAs)
//	tmp/             work space for atomic renames
//	locks/ab         write locks of the blobs whose names start with ab (flock)
type store struct {
	dir string
}

func newStore(dir string) (*store, error) {
	for _, d := range []string{"blobs", "partial", "trees", "roots", "names", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("upload store %s: %w", dir, err)
		}
	}
	return &store{dir: dir}, nil
}

func (s *store) blobPath(h string) string    { return filepath.Join(s.dir, "blobs", h[:2], h) }
func (s *store) partialPath(h string) string { return filepath.Join(s.dir, "partial", h) }
func (s *store) treePath(id string) string   { return filepath.Join(s.dir, "trees", id+".json") }
func (s *store) rootPath(id string) string   { return filepath.Join(s.dir, "roots", id) }
func (s *store) namesPath(id string) string  { return filepath.Join(s.dir, "names", id) }
func (s *store) lockPath(h string) string    { return filepath.Join(s.dir, "locks", h[:2]) }

// lock takes the write lock of blob h, shared with every process using this store directory: an flock on
// locks/<first two hex digits of h>. Blobs share 256 lock files, created once and kept, rather than one file
// each, which would cost a file creation per blob. A request holds the lock for one chunk; it gives up when
// ctx ends. Only one request appends to a blob at a time.
func (s *store) lock(ctx context.Context, h string) (unlock func() error, err error) {
	return filelock.Lock(ctx, s.lockPath(h))
}

// blobSize returns the size of the complete blob h; ok is false when it is not stored.
func (s *store) blobSize(h string) (size int64, ok bool, err error) {
	fi, err := os.Stat(s.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return fi.Size(), true, nil
}

// partialSize returns how many bytes of blob h have been received so far (0 when none).
func (s *store) partialSize(h string) (int64, error) {
	fi, err := os.Stat(s.partialPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// finish checks that the partial blob h hashes to h and moves it into place. got is the hash of the partial
// blob when the caller computed it while writing, or "" to read it from disk. On a mismatch the partial blob is
// removed and ok is false.
func (s *store) finish(h, got string) (ok bool, err error) {
	p := s.partialPath(h)
	if got == "" {
		if got, err = hashFile(p); err != nil {
			return false, err
		}
	}
	if got != h {
		return false, os.Remove(p)
	}
	if err := os.Chmod(p, 0o444); err != nil {
		return false, err
	}
	err = os.Rename(p, s.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		// The first blob of its two-digit directory.
		if err := os.MkdirAll(filepath.Dir(s.blobPath(h)), 0o755); err != nil {
			return false, err
		}
		err = os.Rename(p, s.blobPath(h))
	}
	return err == nil, err
}

// hashFile returns the lowercase hex sha256 of the file at p.
func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	hw := sha256.New()
	if _, err := io.Copy(hw, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(hw.Sum(nil)), nil
}

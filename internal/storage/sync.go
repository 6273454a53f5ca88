package storage

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/stix-run/stix/internal/transport/ignore"
)

// Sync holds the settings of Upload and Download. The zero value is ready to use.
type Sync struct {
	// Workers is how many files move at once (default 16). A large file is itself sent in parts, several at once
	// where the store allows it.
	Workers int
	// HashCache is a file that remembers the MD5 of uploaded files by size, modification and change times and
	// inode, so that an unchanged upload stats its files rather than reading them; "" hashes every file every
	// time. Give one file per set of sources (it keeps the entries of the last upload only).
	HashCache string
	// Ignore leaves out of each directory source what its .skyignore files say, or its .gitignore files when
	// the source has no .skyignore at its root (SkyPilot's rule for a workdir and a storage entry's local
	// source; package internal/transport/ignore).
	Ignore bool
	// Notef receives notes about files left out (sockets, pipes, dangling symlinks); nil drops them (they are in
	// Stats.Notes too).
	Notef func(format string, args ...any)
}

// DefaultWorkers is Sync.Workers' default.
const DefaultWorkers = 16

// Stats says what a transfer did.
type Stats struct {
	// Files is how many files (objects) were considered; Transferred of them were sent, Skipped were the same
	// on both sides already.
	Files       int
	Transferred int
	Skipped     int
	// Bytes were sent; SkippedBytes were not, being there already.
	Bytes        int64
	SkippedBytes int64
	// Notes are what was left out, and why.
	Notes []string
}

// Upload syncs local sources to bucket under prefix with the default settings (see Sync.Upload).
func Upload(ctx context.Context, st Store, bucket, prefix string, sources ...string) (Stats, error) {
	return Sync{}.Upload(ctx, st, bucket, prefix, sources...)
}

// Download copies bucket's objects under prefix into destDir with the default settings (see Sync.Download).
func Download(ctx context.Context, st Store, bucket, prefix, destDir string) (Stats, error) {
	return Sync{}.Download(ctx, st, bucket, prefix, destDir)
}

// localFile is a file to upload: where it is, and the key it goes to.
type localFile struct {
	path string
	key  string
	size int64
}

// Upload sends local files to bucket under prefix, only those that changed: a file is sent unless an object of
// the same key has the same size and the same MD5 (the store's own, else stix's x-*-meta-stix-md5; see MetaMD5).
// One directory source uploads its contents (dir/a -> prefix/a); one file goes to prefix/<its name>; with several
// sources, each directory goes under its own name (prefix/dir/a) and each file as prefix/<its name>. Symlinks are
// followed (to files and to directories, loops cut); sockets, pipes and devices are left out with a note.
// Objects under prefix that have no local file are left alone.
func (s Sync) Upload(ctx context.Context, st Store, bucket, prefix string, sources ...string) (Stats, error) {
	prefix = normPrefix(prefix)
	var stats Stats
	files, err := s.collect(prefix, sources, &stats)
	if err != nil {
		return stats, err
	}
	remote := map[string]Object{}
	if err := st.List(ctx, bucket, prefix, func(o Object) error {
		remote[o.Key] = o
		return nil
	}); err != nil {
		return stats, err
	}
	stats.Files = len(files)
	cache := loadHashCache(s.HashCache)
	var sent, skipped, bytes, skippedBytes atomic.Int64
	err = s.parallel(ctx, len(files), func(ctx context.Context, i int) error {
		f := files[i]
		fi, err := os.Stat(f.path) // the file may have changed since the walk
		if err != nil {
			return fmt.Errorf("upload %s: %w", f.path, err)
		}
		size := fi.Size()
		var fh *os.File
		defer func() {
			if fh != nil {
				fh.Close()
			}
		}()
		sum, _ := cache.lookup(f.path, fi)
		if o, ok := remote[f.key]; ok && o.Size == size {
			if sum == "" {
				if fh, err = os.Open(f.path); err != nil {
					return fmt.Errorf("upload %s: %w", f.path, err)
				}
				if sum, err = md5File(fh, size); err != nil {
					return fmt.Errorf("upload %s: read: %w", f.path, err)
				}
				cache.store(f.path, fi, sum)
			}
			same, err := sameAs(ctx, st, bucket, o, sum)
			if err != nil {
				return err
			}
			if same {
				skipped.Add(1)
				skippedBytes.Add(size)
				return nil
			}
		}
		if fh == nil {
			if fh, err = os.Open(f.path); err != nil {
				return fmt.Errorf("upload %s: %w", f.path, err)
			}
		}
		// With nothing to compare against, the store client hashes the content itself, in the same pass as the
		// parts of a multipart upload.
		put, err := st.Put(ctx, bucket, f.key, fh, size, PutOptions{MD5: sum})
		if err != nil {
			return fmt.Errorf("upload %s: %w", f.path, err)
		}
		if sum == "" {
			cache.store(f.path, fi, put.MD5)
		}
		sent.Add(1)
		bytes.Add(size)
		return nil
	})
	stats.Transferred, stats.Skipped = int(sent.Load()), int(skipped.Load())
	stats.Bytes, stats.SkippedBytes = bytes.Load(), skippedBytes.Load()
	if err == nil {
		if cerr := cache.save(); cerr != nil {
			s.note(&stats, "the hash cache %s was not saved: %v", s.HashCache, cerr)
		}
	}
	return stats, err
}

// sameAs reports whether object o (of the same size as the local content) has the MD5 sum. A listing states no
// MD5 for S3's multipart objects, and S3's ETag is no MD5 under SSE-KMS: then the object's own metadata is read.
func sameAs(ctx context.Context, st Store, bucket string, o Object, sum string) (bool, error) {
	if o.MD5 == sum {
		return true, nil
	}
	if o.Metadata != nil { // from Stat or Get already: nothing more to ask
		return false, nil
	}
	full, err := st.Stat(ctx, bucket, o.Key)
	if errors.Is(err, ErrNoSuchKey) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return full.MD5 == sum, nil
}

// md5File hashes size bytes of f from its start.
func md5File(f io.ReaderAt, size int64) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// normPrefix makes a prefix "" or "some/path/".
func normPrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// collect walks the sources into the files to upload, in key order.
func (s Sync) collect(prefix string, sources []string, stats *Stats) ([]localFile, error) {
	if len(sources) == 0 {
		return nil, errors.New("upload: no source given")
	}
	var files []localFile
	seen := map[string]string{} // key -> local path
	for _, src := range sources {
		if abs, err := filepath.Abs(src); err == nil {
			src = abs // the hash cache's keys
		}
		fi, err := os.Stat(src)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("upload: source %s does not exist: give an existing file or directory", src)
			}
			return nil, fmt.Errorf("upload: source %s: %w", src, err)
		}
		base := prefix
		if fi.IsDir() && len(sources) > 1 {
			base = prefix + filepath.Base(filepath.Clean(src)) + "/"
		}
		add := func(p, key string, size int64) error {
			if other, dup := seen[key]; dup {
				return fmt.Errorf("upload: %s and %s would both be stored as %s: give sources with different names", other, p, key)
			}
			seen[key] = p
			files = append(files, localFile{path: p, key: key, size: size})
			return nil
		}
		switch {
		case fi.Mode().IsRegular():
			if err := add(src, prefix+filepath.Base(src), fi.Size()); err != nil {
				return nil, err
			}
		case fi.IsDir():
			w := walker{visited: map[[2]uint64]bool{}, add: add}
			if s.Ignore {
				w.root, w.ignore = src, ignore.New(ignore.FileFor(src))
			}
			if err := s.walk(&w, src, "", base, fi, stats); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("upload: source %s is a %s, not a file or directory", src, kindOf(fi.Mode()))
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].key < files[j].key })
	return files, nil
}

// walker is the state of one directory source's walk.
type walker struct {
	visited map[[2]uint64]bool // cuts symlink loops
	add     func(p, key string, size int64) error
	// root and ignore, when ignore is set: the source's directory and the patterns of its ignore files.
	root   string
	ignore *ignore.Matcher
}

// walk adds the files under dir (stat'ed as fi; rel is its slash-separated path in the source, "" for the
// source itself), following symlinks, leaving out what the ignore files say.
func (s Sync) walk(w *walker, dir, rel, keyPrefix string, fi os.FileInfo, stats *Stats) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id := [2]uint64{uint64(st.Dev), st.Ino}
		if w.visited[id] {
			s.note(stats, "skipped %s: a symlink loop back to a directory already uploaded", dir)
			return nil
		}
		w.visited[id] = true
		defer delete(w.visited, id) // the same directory may be reached twice without a loop
	}
	if w.ignore != nil {
		if err := w.ignore.AddFile(w.root, rel); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		key := keyPrefix + e.Name()
		info, err := os.Stat(p) // follows symlinks
		if err != nil {
			if e.Type()&os.ModeSymlink != 0 && errors.Is(err, os.ErrNotExist) {
				s.note(stats, "skipped %s: a symlink to nothing", p)
				continue
			}
			return fmt.Errorf("upload: %w", err)
		}
		erel := path.Join(rel, e.Name())
		if w.ignore.Ignored(erel, info.IsDir()) {
			continue
		}
		switch {
		case info.IsDir():
			if err := s.walk(w, p, erel, key+"/", info, stats); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := w.add(p, key, info.Size()); err != nil {
				return err
			}
		default:
			s.note(stats, "skipped %s: a %s is not uploaded", p, kindOf(info.Mode()))
		}
	}
	return nil
}

func kindOf(m os.FileMode) string {
	switch {
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

func (s Sync) note(stats *Stats, format string, args ...any) {
	stats.Notes = append(stats.Notes, fmt.Sprintf(format, args...))
	if s.Notef != nil {
		s.Notef(format, args...)
	}
}

// parallel runs fn for 0..n-1 on s.Workers goroutines; the first error cancels the rest and is returned.
func (s Sync) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	workers := s.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	return Parallel(ctx, workers, n, fn)
}

// Parallel runs fn for 0..n-1 on at most workers goroutines; the first error cancels the context the others get
// and is returned, as is the caller's context's error when nothing failed first.
func Parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// safeRel checks the part of key under the prefix before it names a file under the destination: relative,
// slash-separated, with no empty, '.' or '..' segment.
func safeRel(rel string) error {
	if rel == "" {
		return errors.New("it names the prefix itself")
	}
	if strings.HasPrefix(rel, "/") || strings.Contains(rel, "\\") || strings.ContainsRune(rel, 0) {
		return errors.New("it is an absolute path or holds a backslash or NUL")
	}
	if path.Clean(rel) != rel {
		return errors.New("it holds empty, '.' or '..' segments")
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return errors.New("it leads outside the destination")
	}
	return nil
}

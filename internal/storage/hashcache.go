package storage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/stix-run/stix/internal/atomicfile"
)

// hashCache remembers the MD5 of local files by what stat says of them (size, modification and change times,
// device and inode), so that an unchanged upload stats its files rather than reading them. The change time moves
// on every write and cannot be set back (`touch -r` sets the modification time only), so a file whose entry
// still matches was not written since it was hashed.
type hashCache struct {
	path string
	mu   sync.Mutex
	old  map[string]hashEntry
	seen map[string]hashEntry
}

type hashEntry struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	MD5   string `json:"md5"`
}

// loadHashCache reads the cache at path ("" or unreadable: an empty one).
func loadHashCache(path string) *hashCache {
	c := &hashCache{path: path, old: map[string]hashEntry{}, seen: map[string]hashEntry{}}
	if path == "" {
		return c
	}
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &c.old)
	}
	return c
}

// statEntry is fi's entry without the MD5 (ok false where the platform gives no inode or change time).
func statEntry(fi os.FileInfo) (hashEntry, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return hashEntry{}, false
	}
	return hashEntry{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ctime: st.Ctim.Nano(), Dev: uint64(st.Dev), Ino: st.Ino}, true
}

// lookup returns the remembered MD5 of path when fi still matches.
func (c *hashCache) lookup(path string, fi os.FileInfo) (string, bool) {
	if c.path == "" {
		return "", false
	}
	e, ok := statEntry(fi)
	if !ok {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.old[path]
	if !ok || old.MD5 == "" {
		return "", false
	}
	e.MD5 = old.MD5
	if e != old {
		return "", false
	}
	c.seen[path] = e
	return e.MD5, true
}

// store remembers the MD5 of path as stat'ed in fi (before it was read).
func (c *hashCache) store(path string, fi os.FileInfo, sum string) {
	if c.path == "" {
		return
	}
	e, ok := statEntry(fi)
	if !ok {
		return
	}
	e.MD5 = sum
	c.mu.Lock()
	c.seen[path] = e
	c.mu.Unlock()
}

// save writes the entries of the files this upload saw (those of files gone or not uploaded this time are
// dropped), owner-only.
func (c *hashCache) save() error {
	if c.path == "" {
		return nil
	}
	data, err := json.Marshal(c.seen)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(c.path, data, 0o600)
}

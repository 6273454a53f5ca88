package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// loadTree reads the committed manifest id.
func (s *store) loadTree(id string) (*Manifest, error) {
	if !validHash(id) {
		return nil, fmt.Errorf("%w: %q is not a tree ID (64 lowercase hex digits)", ErrNotFound, id)
	}
	data, err := os.ReadFile(s.treePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s; push the workdir or file mount again", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", id, err)
	}
	// A manifest was validated when committed; checking again costs little and keeps Resolve from ever
	// writing outside its root, whatever is on disk.
	if e := m.validate(Limits{MaxTreeBytes: 1<<63 - 1, MaxFiles: int(^uint(0) >> 1)}); e != nil {
		return nil, fmt.Errorf("manifest %s: %w", id, e)
	}
	return &m, nil
}

// Resolve returns the local path of the committed tree treeID under dir (the handler's directory), laid out
// as it was on the client: for a pushed directory, a directory holding its files (with their permissions and
// modification times), directories and symlinks (kept as links, their targets neither followed nor checked,
// as rsync -a does); for a pushed single file, that file. The first call for a tree writes it out; later calls
// return the same path. The caller must not modify what lies there.
func Resolve(dir, treeID string) (string, error) {
	st, err := newStore(dir)
	if err != nil {
		return "", err
	}
	m, err := st.loadTree(treeID)
	if err != nil {
		return "", err
	}
	root := st.rootPath(treeID)
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		if err := st.materialize(m, root); err != nil {
			return "", fmt.Errorf("resolve upload %s: %w", treeID, err)
		}
	} else if err != nil {
		return "", err
	}
	if m.Kind == KindFile {
		return filepath.Join(root, filepath.FromSlash(m.Entries[0].Path)), nil
	}
	return root, nil
}

// ResolveAs is Resolve for a tree that must keep the name its directory had on the client (one of several
// sources that are stored under their own names, as a storage entry's are): for a pushed directory it returns
// a path whose last element is name, a link to the tree Resolve writes out; a pushed single file keeps its own
// name and is returned as by Resolve.
func ResolveAs(dir, treeID, name string) (string, error) {
	p, err := Resolve(dir, treeID)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(p); err != nil || !fi.IsDir() || filepath.Base(p) == name {
		return p, err
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("resolve upload %s: %q is not a directory name", treeID, name)
	}
	st, err := newStore(dir)
	if err != nil {
		return "", err
	}
	link := filepath.Join(st.namesPath(treeID), name)
	if _, err := os.Lstat(link); err == nil {
		return link, nil
	}
	if err := os.MkdirAll(st.namesPath(treeID), 0o755); err != nil {
		return "", err
	}
	// Written aside and renamed, so that two callers racing both find a whole link.
	aside, err := os.MkdirTemp(filepath.Join(st.dir, "tmp"), "name-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(aside)
	tmp := filepath.Join(aside, "link")
	if err := os.Symlink(filepath.Join("..", "..", "roots", treeID), tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, link); err != nil {
		return "", err
	}
	return link, nil
}

// materialize writes the tree of m into a fresh directory and renames it to root. Two callers racing both
// succeed: the loser removes its copy.
func (s *store) materialize(m *Manifest, root string) error {
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "root-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	entries := append([]Entry(nil), m.Entries...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	var dirs []Entry
	for _, e := range entries {
		p := filepath.Join(tmp, filepath.FromSlash(e.Path))
		// Parents the manifest does not name are created as plain directories; the ones it names are written
		// before their contents (sorted order) and have their modes set last, in case a mode forbids writing.
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch e.Type {
		case TypeDir:
			if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			dirs = append(dirs, e)
		case TypeSymlink:
			if err := os.Symlink(e.Target, p); err != nil {
				return err
			}
		case TypeFile:
			if err := s.copyBlob(e, p); err != nil {
				return err
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(filepath.Join(tmp, filepath.FromSlash(dirs[i].Path)), fs.FileMode(dirs[i].Mode)); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, root); err != nil {
		if _, serr := os.Lstat(root); serr == nil {
			return nil // another Resolve got there first
		}
		return err
	}
	return nil
}

// copyBlob writes the blob of file entry e to p with e's permissions and modification time. The copy is a new
// file, not a link to the blob: permissions and times belong to an inode, and blobs are shared between trees.
func (s *store) copyBlob(e Entry, p string) error {
	src, err := os.Open(s.blobPath(e.SHA256))
	if err != nil {
		return fmt.Errorf("blob of %q: %w", e.Path, err)
	}
	defer src.Close()
	dst, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Chmod(fs.FileMode(e.Mode)); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	t := time.Unix(0, e.MTime)
	return os.Chtimes(p, t, t)
}

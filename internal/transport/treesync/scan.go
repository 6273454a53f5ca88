package treesync

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stix-run/stix/internal/transport/ignore"
)

// ScanOptions tune Scan.
type ScanOptions struct {
	// Ignore, when set, leaves out what it ignores; ignored directories are not walked.
	Ignore *ignore.Matcher
	// ReadIgnoreFiles adds the ignore file (Ignore.FileName) of every walked directory to Ignore. Set it for the
	// source tree; leave it off to scan a destination with the source's patterns.
	ReadIgnoreFiles bool
}

// Scan lists the tree under the local directory root, parents before their contents. Sockets, devices and
// pipes are left out: they cannot be copied.
func Scan(root string, opts ScanOptions) ([]Entry, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("scan %s: not a directory", root)
	}
	if opts.ReadIgnoreFiles && opts.Ignore != nil {
		if err := opts.Ignore.AddFile(root, ""); err != nil {
			return nil, fmt.Errorf("scan %s: read ignore file: %w", root, err)
		}
	}
	var out []Entry
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if opts.Ignore.Ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		e, ok := EntryFromInfo(rel, info, link)
		if !ok {
			return nil
		}
		out = append(out, e)
		if d.IsDir() && opts.ReadIgnoreFiles && opts.Ignore != nil {
			if err := opts.Ignore.AddFile(root, rel); err != nil {
				return fmt.Errorf("read ignore file: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	return out, nil
}

// EntryFromInfo builds the Entry of the path rel from its Lstat info and, for a symlink, its target. ok is false
// for what a sync cannot copy (sockets, devices, pipes). Remote transports use it on what they list.
func EntryFromInfo(rel string, fi fs.FileInfo, link string) (e Entry, ok bool) {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return Entry{Path: rel, Mode: m.Perm(), Size: fi.Size(), ModTime: fi.ModTime()}, true
	case m.IsDir():
		return Entry{Path: rel, Mode: fs.ModeDir | m.Perm()}, true
	case m&fs.ModeSymlink != 0:
		// Symlink permissions mean nothing on Linux and cannot be set portably: only the target counts.
		return Entry{Path: rel, Mode: fs.ModeSymlink | 0o777, Link: link}, true
	default:
		return Entry{}, false
	}
}

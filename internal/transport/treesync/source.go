package treesync

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stix-run/stix/internal/transport/ignore"
)

// Source is the local side of a sync, as every transport starts it: the absolute path, and for a directory the
// ignore patterns (the source's .skyignore, else .gitignore, when asked) and the scanned tree.
type Source struct {
	Path string
	Info fs.FileInfo
	// Ignore and Tree are set for a directory only; Ignore is nil when ignore files are not honoured.
	Ignore *ignore.Matcher
	Tree   []Entry
}

// IsDir reports whether the source is a directory (else a single file).
func (s Source) IsDir() bool { return s.Info.IsDir() }

// ScanSource resolves src (following it when it is a symlink) and, when it is a directory, scans it, leaving out what its ignore files say when
// useIgnore is set.
func ScanSource(src string, useIgnore bool) (Source, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return Source{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Source{}, err
	}
	if fi.IsDir() {
		// A root that is a symlink to a directory is followed: the walk below would otherwise stop at the link.
		if abs, err = filepath.EvalSymlinks(abs); err != nil {
			return Source{}, err
		}
	}
	s := Source{Path: abs, Info: fi}
	if !fi.IsDir() {
		return s, nil
	}
	if useIgnore {
		s.Ignore = ignore.New(ignore.FileFor(abs))
	}
	s.Tree, err = Scan(abs, ScanOptions{Ignore: s.Ignore, ReadIgnoreFiles: true})
	return s, err
}

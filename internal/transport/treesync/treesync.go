// Package treesync plans the copy of a directory tree onto another, the way `rsync -a` would: only files whose
// size, modification time, mode or link target changed move; directories and symlinks are kept as such;
// deletions are mirrored when asked. It does no I/O beyond reading a local tree (Scan), so every transport
// (local, SSH, docker exec, k8s exec) applies the same Plan its own way.
package treesync

import (
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Entry is one file, directory or symlink of a tree.
type Entry struct {
	// Path is slash-separated and relative to the tree root; never empty.
	Path string
	// Mode holds the type bits (fs.ModeDir, fs.ModeSymlink; none for a regular file) and permissions.
	Mode fs.FileMode
	// Size is the length in bytes of a regular file.
	Size int64
	// ModTime is the modification time of a regular file.
	ModTime time.Time
	// Link is the target of a symlink.
	Link string
}

// IsDir reports whether e is a directory.
func (e Entry) IsDir() bool { return e.Mode.IsDir() }

// IsLink reports whether e is a symlink.
func (e Entry) IsLink() bool { return e.Mode&fs.ModeSymlink != 0 }

// kind is the type of an entry without its permissions: a file that became a symlink must be replaced.
func (e Entry) kind() fs.FileMode { return e.Mode.Type() }

// Options tune Diff.
type Options struct {
	// Delete mirrors deletions: entries of the destination that the source lacks are removed.
	Delete bool
	// TimePrecision is the granularity at which modification times compare; 0 compares them exactly. A transport
	// whose destination keeps whole seconds (tar, some filesystems) sets time.Second.
	TimePrecision time.Duration
}

// Plan is what it takes to make a destination tree equal to a source tree. Apply its parts in order:
// Replace, Delete, Mkdir, Copy.
type Plan struct {
	// Replace lists destination paths whose type differs from the source's (a directory that became a file, ...):
	// remove each with everything below it, whatever Options.Delete says.
	Replace []string
	// Delete lists destination entries absent from the source, deepest first, so that directories are empty by
	// the time they are removed. Empty unless Options.Delete.
	Delete []Entry
	// Mkdir lists directories to create, or whose permissions to set, parents first.
	Mkdir []Entry
	// Copy lists regular files and symlinks to write, in source order.
	Copy []Entry
	// Skipped counts files and symlinks already up to date.
	Skipped int
	// Deleted counts the files and symlinks that Replace and Delete remove.
	Deleted int
	// Bytes sums the sizes of the regular files in Copy.
	Bytes int64
}

// Unchanged reports whether the destination entry d already equals the source entry s: same type and
// permissions, and for a file the same size and modification time, for a symlink the same target.
func Unchanged(s, d Entry, precision time.Duration) bool {
	if s.Mode != d.Mode {
		return false
	}
	switch {
	case s.IsLink():
		return s.Link == d.Link
	case s.IsDir():
		return true
	default:
		return s.Size == d.Size && sameTime(s.ModTime, d.ModTime, precision)
	}
}

func sameTime(a, b time.Time, precision time.Duration) bool {
	if precision > 0 {
		return a.Truncate(precision).Equal(b.Truncate(precision))
	}
	return a.Equal(b)
}

// Diff plans the changes that turn the tree dst into the tree src. Both lists come from a walk (parents before
// their contents); neither is modified.
func Diff(src, dst []Entry, opts Options) Plan {
	var p Plan
	have := make(map[string]Entry, len(dst))
	for _, d := range dst {
		have[d.Path] = d
	}
	want := make(map[string]bool, len(src))
	replaced := map[string]bool{}
	for _, s := range src {
		want[s.Path] = true
		d, ok := have[s.Path]
		if ok && d.kind() != s.kind() {
			p.Replace = append(p.Replace, s.Path)
			replaced[s.Path] = true
			ok = false
		}
		switch {
		case s.IsDir():
			if !ok || d.Mode != s.Mode {
				p.Mkdir = append(p.Mkdir, s)
			}
		case ok && Unchanged(s, d, opts.TimePrecision):
			p.Skipped++
		default:
			p.Copy = append(p.Copy, s)
			if !s.IsLink() {
				p.Bytes += s.Size
			}
		}
	}
	for _, d := range dst {
		if d.IsDir() {
			continue
		}
		if replaced[d.Path] || underAny(d.Path, replaced) {
			p.Deleted++
		}
	}
	if opts.Delete {
		for _, d := range dst {
			if want[d.Path] || replaced[d.Path] || underAny(d.Path, replaced) {
				continue
			}
			p.Delete = append(p.Delete, d)
			if !d.IsDir() {
				p.Deleted++
			}
		}
		sort.SliceStable(p.Delete, func(i, j int) bool { return depth(p.Delete[i].Path) > depth(p.Delete[j].Path) })
	}
	return p
}

// underAny reports whether p lies below one of the directories in dirs.
func underAny(p string, dirs map[string]bool) bool {
	if len(dirs) == 0 {
		return false
	}
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if dirs[dir] {
			return true
		}
	}
	return false
}

func depth(p string) int { return strings.Count(p, "/") }

package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
)

// ManifestVersion is the manifest format this package writes and reads.
const ManifestVersion = 1

// Kinds of tree root.
const (
	KindDir  = "dir"  // the pushed path was a directory; entries are relative to it
	KindFile = "file" // the pushed path was one file; the single entry is named for it
)

// Entry types.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
)

// Manifest describes a tree: every file, directory and symlink, with file contents named by their sha256.
// Its ID is the sha256 of its canonical JSON encoding (entries sorted by path).
type Manifest struct {
	Version int     `json:"version"`
	Kind    string  `json:"kind"`
	Entries []Entry `json:"entries"`
}

// Entry is one path of a tree.
type Entry struct {
	// Path is slash-separated, relative to the tree root, clean, never absolute, without "." or ".." segments.
	Path string `json:"path"`
	Type string `json:"type"`
	// Mode holds the permission bits (at most 0o777) of a file or directory.
	Mode uint32 `json:"mode,omitempty"`
	// Size, MTime (Unix nanoseconds) and SHA256 (lowercase hex of the contents) describe a regular file.
	Size   int64  `json:"size,omitempty"`
	MTime  int64  `json:"mtime,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Target is a symlink's target, kept as it is (like rsync -a): it is not followed and may point anywhere.
	Target string `json:"target,omitempty"`
}

// canonical returns the manifest's canonical encoding and ID.
func (m *Manifest) canonical() (data []byte, id string) {
	c := *m
	c.Entries = append([]Entry(nil), m.Entries...)
	sort.Slice(c.Entries, func(i, j int) bool { return c.Entries[i].Path < c.Entries[j].Path })
	data, err := json.Marshal(&c)
	if err != nil {
		panic(err) // a Manifest always encodes
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:])
}

// ID returns the tree ID: the sha256 of the canonical encoding.
func (m *Manifest) ID() string {
	_, id := m.canonical()
	return id
}

// totals returns the number of entries and the declared bytes of the regular files.
func (m *Manifest) totals() (files int, bytes int64) {
	for _, e := range m.Entries {
		if e.Type == TypeFile {
			bytes += e.Size
		}
	}
	return len(m.Entries), bytes
}

// validHash reports whether s is a lowercase hex sha256.
func validHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validate checks the manifest's shape and paths, and its declared totals against lim. Blob contents and real
// sizes are checked when the manifest is committed.
func (m *Manifest) validate(lim Limits) *Error {
	bad := func(format string, a ...any) *Error {
		return &Error{Status: http.StatusBadRequest, Code: "bad_manifest", Message: fmt.Sprintf(format, a...)}
	}
	if m.Version != ManifestVersion {
		return bad("manifest version %d is not supported (this server reads version %d)", m.Version, ManifestVersion)
	}
	switch m.Kind {
	case KindDir:
	case KindFile:
		if len(m.Entries) != 1 || m.Entries[0].Type != TypeFile || strings.Contains(m.Entries[0].Path, "/") {
			return bad("a manifest of kind %q must hold exactly one file entry named without a directory", KindFile)
		}
	default:
		return bad("manifest kind %q is not %q or %q", m.Kind, KindDir, KindFile)
	}
	files, bytes := m.totals()
	if err := lim.check(files, bytes); err != nil {
		return err
	}
	types := make(map[string]string, len(m.Entries))
	for i, e := range m.Entries {
		where := fmt.Sprintf("entry %d (%q)", i, e.Path)
		if err := checkPath(e.Path); err != "" {
			return bad("%s: path %s; paths must be relative to the tree root, without . or .. segments", where, err)
		}
		if _, dup := types[e.Path]; dup {
			return bad("%s: path appears twice", where)
		}
		types[e.Path] = e.Type
		switch e.Type {
		case TypeFile:
			if !validHash(e.SHA256) {
				return bad("%s: sha256 %q is not 64 lowercase hex digits", where, e.SHA256)
			}
			if e.Size < 0 {
				return bad("%s: size %d is negative", where, e.Size)
			}
		case TypeDir:
			if e.SHA256 != "" || e.Size != 0 || e.Target != "" {
				return bad("%s: a directory has no sha256, size or target", where)
			}
		case TypeSymlink:
			if e.Target == "" || strings.ContainsRune(e.Target, 0) {
				return bad("%s: a symlink needs a target without NUL bytes", where)
			}
		default:
			return bad("%s: type %q is not %q, %q or %q", where, e.Type, TypeFile, TypeDir, TypeSymlink)
		}
		if e.Mode&^0o777 != 0 {
			return bad("%s: mode %o has bits beyond 0777", where, e.Mode)
		}
	}
	// Nothing may be written through a symlink or below a file: every ancestor that the manifest names must be a
	// directory.
	for _, e := range m.Entries {
		for p := path.Dir(e.Path); p != "."; p = path.Dir(p) {
			if t, ok := types[p]; ok && t != TypeDir {
				return bad("entry %q lies below %q, which is a %s, not a directory", e.Path, p, t)
			}
		}
	}
	return nil
}

// checkPath returns why p is not an acceptable entry path, or "" when it is.
func checkPath(p string) string {
	switch {
	case p == "":
		return "is empty"
	case strings.ContainsRune(p, 0):
		return "holds a NUL byte"
	case strings.HasPrefix(p, "/"):
		return "is absolute"
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return "has an empty segment"
		case ".", "..":
			return "has a " + seg + " segment"
		}
	}
	return ""
}

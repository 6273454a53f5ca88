package upload

import (
	"fmt"
	"net/http"
)

// Default limits, used where a Limits field is zero.
const (
	DefaultMaxTreeBytes     = 1 << 30 // 1 GiB of file contents per tree
	DefaultMaxFiles         = 100_000 // entries per tree
	DefaultMaxManifestBytes = 64 << 20
)

// Limits bound what one upload may hold. The server enforces them on what it reads, never on what a client
// claims: a blob is cut off at the limit while it streams in, and a tree's total is summed from stored blobs.
type Limits struct {
	// MaxTreeBytes bounds the total size of a tree's regular files (and so of any one blob).
	MaxTreeBytes int64
	// MaxFiles bounds the number of entries (files, directories, symlinks) of a tree.
	MaxFiles int
	// MaxManifestBytes bounds a manifest's JSON body.
	MaxManifestBytes int64
	// Raise tells the user how this server's limits are raised (for example the server setting that holds
	// them); it is appended to the error a limit causes.
	Raise string
}

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxTreeBytes <= 0 {
		l.MaxTreeBytes = DefaultMaxTreeBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = DefaultMaxManifestBytes
	}
	return l
}

// hint is the advice that comes with a limit error.
func (l Limits) hint() string {
	h := "leave large or generated files out with .skyignore (or .gitignore), or put large data in a cloud bucket " +
		"and name it in file_mounts"
	if l.Raise != "" {
		h += "; " + l.Raise
	} else {
		h += "; or ask the server's administrator to raise the upload limits"
	}
	return h
}

// check refuses a tree of files entries and bytes of file contents over the limits.
func (l Limits) check(files int, bytes int64) *Error {
	if files > l.MaxFiles {
		return l.tooLarge(fmt.Sprintf("the upload holds %d files and directories, over the server's limit of %d",
			files, l.MaxFiles))
	}
	if bytes > l.MaxTreeBytes {
		return l.tooLarge(fmt.Sprintf("the upload holds %s, over the server's limit of %s per upload",
			humanBytes(bytes), humanBytes(l.MaxTreeBytes)))
	}
	return nil
}

// tooLarge is a 413 with msg and the limit hint.
func (l Limits) tooLarge(msg string) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: msg, Hint: l.hint()}
}

// humanBytes renders n in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Package transport is how stix reaches a node: run a command, sync a directory tree, upload a file, and open a
// connection to the node's agent. Each provider hands out a Transport per node; implementations live in
// subpackages (local, ssh, docker; k8s exec later) and share the ignore rules (package ignore), the tree diff
// (package treesync) and the sync by exec and tar (package tarsync).
//
// Remote paths follow ssh/rsync conventions on every transport: "~" and "~/x" are in the node's home directory,
// a relative path is relative to the home directory, and an absolute path is used as it is.
package transport

import (
	"context"
	"io"
	"io/fs"
	"net"
	"path"
	"strings"
)

// Transport reaches one node. Implementations are safe for concurrent use.
type Transport interface {
	// Run runs cmd with the node's shell (bash -c, else sh -c) and returns its exit status. err is non-nil only
	// when the command could not be run or waited for (the transport failed, ctx ended); a command that fails is
	// a non-zero exitCode with a nil err. When ctx ends, the command and its children are killed.
	Run(ctx context.Context, cmd string, opts RunOptions) (exitCode int, err error)
	// Sync makes the remote path dst a copy of the local path src: a directory's contents (like rsync "src/"
	// "dst"), or a single file. Only what changed moves; see SyncOptions.
	Sync(ctx context.Context, src, dst string, opts SyncOptions) (SyncStats, error)
	// Upload writes the local file localPath to remotePath with permissions mode, atomically, creating parents.
	Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error
	// Dial connects to addr as seen from the node (the node's agent, typically): a plain dial for local nodes, a
	// tunnel for SSH and exec-based transports.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Close releases what the transport holds (an SSH connection, ...). Commands started by Run are not affected
	// once Run returned.
	Close() error
}

// RunOptions are the optional parts of Run. The zero value runs in the home directory with no input and
// discards the output.
type RunOptions struct {
	// Env adds or overrides environment variables ("KEY=value") on top of the node's own environment.
	Env []string
	// Dir is the working directory (a remote path); empty means the node's home directory.
	Dir string
	// Stdin feeds the command's standard input; nil means empty input.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; nil discards it.
	Stdout, Stderr io.Writer
}

// SyncOptions are the optional parts of Sync.
type SyncOptions struct {
	// Delete removes from dst what src lacks (rsync --delete). Paths that the ignore files exclude are kept.
	Delete bool
	// Ignore leaves out what src's .skyignore files say, or its .gitignore files when src has no .skyignore at
	// its root (SkyPilot's rule for workdir and file_mounts).
	Ignore bool
}

// SyncStats says what a Sync did. Files count regular files and symlinks; directories are not counted.
type SyncStats struct {
	// Copied counts files written because they were new or changed.
	Copied int `json:"copied"`
	// Skipped counts files already up to date.
	Skipped int `json:"skipped"`
	// Deleted counts files removed from the destination.
	Deleted int `json:"deleted"`
	// Bytes sums the sizes of the files copied.
	Bytes int64 `json:"bytes"`
}

// ResolvePath maps a remote path to an absolute path on a node whose home directory is home, by the rules above:
// "" and "~" are the home, "~/x" and relative paths are in it, absolute paths are used as they are (cleaned).
func ResolvePath(home, remote string) string {
	switch {
	case remote == "" || remote == "~":
		return home
	case strings.HasPrefix(remote, "~/"):
		return path.Join(home, remote[2:])
	case path.IsAbs(remote):
		return path.Clean(remote)
	default:
		return path.Join(home, remote)
	}
}

// Quote makes s one word for a POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

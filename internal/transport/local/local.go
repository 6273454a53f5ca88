// Package local is the transport of a node that is a directory on this machine (the local provider's nodes):
// commands run as child processes with HOME set to the node's home, files are copied with the file system, and
// the node's agent is dialed directly.
package local

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/transport"
)

// Options describe a local node.
type Options struct {
	// Home is the node's home directory, an absolute path; "~" in remote paths means it.
	Home string
	// Exclude lists local directories that Sync never copies from a source tree, such as the directory that holds
	// the local nodes themselves: syncing a workdir that contains them would copy nodes into nodes.
	Exclude []string
}

// Transport reaches a node whose home is a local directory.
type Transport struct {
	home    string
	exclude []string
}

var _ transport.Transport = (*Transport)(nil)

// New returns the transport of the node described by opts.
func New(opts Options) (*Transport, error) {
	if !filepath.IsAbs(opts.Home) {
		return nil, fmt.Errorf("local transport: home %q is not an absolute path", opts.Home)
	}
	t := &Transport{home: filepath.Clean(opts.Home)}
	for _, e := range opts.Exclude {
		t.exclude = append(t.exclude, filepath.Clean(e))
	}
	return t, nil
}

// Home returns the node's home directory.
func (t *Transport) Home() string { return t.home }

// Resolve maps a remote path to a path on this machine (transport.ResolvePath): "~" and "~/x" into the node's
// home, relative paths relative to the home, absolute paths unchanged.
func (t *Transport) Resolve(remote string) string { return transport.ResolvePath(t.home, remote) }

// Dial connects to addr directly: a local node's agent listens on a loopback address of this machine.
func (t *Transport) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Close does nothing: a local transport holds no connection.
func (t *Transport) Close() error { return nil }

// Upload copies localPath to remotePath with permissions mode, atomically, creating the parent directories.
func (t *Transport) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := t.Resolve(remotePath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("upload %s: %w", localPath, err)
	}
	if _, err := writeFileAtomic(localPath, dst, mode.Perm(), time.Time{}); err != nil {
		return fmt.Errorf("upload %s to %s: %w", localPath, dst, err)
	}
	return nil
}

// writeFileAtomic copies src to dst through a temporary file in dst's directory, so that a reader never sees a
// half-written file; it sets the permissions and, unless mtime is zero, the modification time.
func writeFileAtomic(src, dst string, perm fs.FileMode, mtime time.Time) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	defer atomicfile.HoldForks(perm)()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".stix-sync-*")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, in)
	if err != nil {
		return n, err
	}
	if err := tmp.Chmod(perm); err != nil {
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(tmp.Name(), time.Time{}, mtime); err != nil {
			return n, err
		}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return n, err
	}
	done = true
	return n, nil
}

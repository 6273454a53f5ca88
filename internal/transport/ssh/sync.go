package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/ignore"
	"github.com/stix-run/stix/internal/transport/tarsync"
	"github.com/stix-run/stix/internal/transport/treesync"
)

// copyWorkers is how many files a Sync writes at once: SFTP requests pipeline over the one connection, and a
// tree of small files is bound by round trips, not bandwidth.
const copyWorkers = 8

// timePrecision is what SFTP (protocol version 3) keeps of a modification time: whole seconds.
const timePrecision = time.Second

// Upload writes the local file localPath to remotePath with permissions mode over SFTP, atomically (a temporary
// file in the same directory, then a rename), creating parent directories.
func (t *Transport) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	dst := t.Resolve(remotePath)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("upload %s to %s:%s: %w", localPath, t.Addr(), dst, err)
	}
	if t.sftp == nil {
		if err := tarsync.Upload(ctx, shellNode{t}, localPath, dst, mode); err != nil {
			return fmt.Errorf("upload %s to %s:%s: %w", localPath, t.Addr(), dst, err)
		}
		return nil
	}
	if err := t.sftp.MkdirAll(path.Dir(dst)); err != nil {
		return fmt.Errorf("upload %s to %s:%s: create parent: %w", localPath, t.Addr(), dst, err)
	}
	if _, err := t.writeFile(ctx, localPath, dst, mode.Perm(), time.Time{}); err != nil {
		return fmt.Errorf("upload %s to %s:%s: %w", localPath, t.Addr(), dst, err)
	}
	return nil
}

// writeFile copies the local file src to the remote path dst through a temporary file in dst's directory; it
// sets the permissions and, unless mtime is zero, the modification time before the rename.
func (t *Transport) writeFile(ctx context.Context, src, dst string, perm fs.FileMode, mtime time.Time) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	tmp := path.Join(path.Dir(dst), ".stix-sync-"+randomSuffix())
	f, err := t.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			_ = t.sftp.Remove(tmp)
		}
	}()
	n, err := f.ReadFromWithConcurrency(contextReader{ctx, in}, 0)
	if err != nil {
		return n, err
	}
	if err := f.Chmod(perm); err != nil {
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	if !mtime.IsZero() {
		if err := t.sftp.Chtimes(tmp, mtime, mtime); err != nil {
			return n, err
		}
	}
	if err := t.sftp.PosixRename(tmp, dst); err != nil {
		return n, err
	}
	done = true
	return n, nil
}

// contextReader stops a copy when ctx ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sync makes the remote path dst a copy of the local path src (a directory's contents, or one file): the remote
// tree is listed over SFTP, treesync plans the difference, and only that moves. Without SFTP, package tarsync
// does the same with find/stat and a tar stream over sessions.
func (t *Transport) Sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	dstPath := t.Resolve(dst)
	st, err := t.sync(ctx, src, dstPath, opts)
	if err != nil {
		return st, fmt.Errorf("sync %s to %s:%s: %w", src, t.Addr(), dstPath, err)
	}
	return st, nil
}

func (t *Transport) sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	if t.sftp == nil {
		return tarsync.Sync(ctx, shellNode{t}, src, dst, opts)
	}
	source, err := treesync.ScanSource(src, opts.Ignore)
	if err != nil {
		return transport.SyncStats{}, err
	}
	src = source.Path
	if !source.IsDir() {
		return t.syncFile(ctx, src, dst, source.Info)
	}
	m, srcTree := source.Ignore, source.Tree
	if err := t.sftp.MkdirAll(dst); err != nil {
		return transport.SyncStats{}, err
	}
	// Listed with the source's patterns: ignored remote files are neither compared nor deleted.
	dstTree, err := t.scan(ctx, dst, m)
	if err != nil {
		return transport.SyncStats{}, err
	}
	plan := treesync.Diff(srcTree, dstTree, treesync.Options{Delete: opts.Delete, TimePrecision: timePrecision})
	if err := t.apply(ctx, src, dst, plan); err != nil {
		return transport.SyncStats{}, err
	}
	if err := t.sftp.Chmod(dst, source.Info.Mode().Perm()); err != nil {
		return transport.SyncStats{}, err
	}
	return transport.SyncStats{Copied: len(plan.Copy), Skipped: plan.Skipped, Deleted: plan.Deleted, Bytes: plan.Bytes}, nil
}

// scan lists the remote tree under root, parents before their contents, leaving out what m ignores.
func (t *Transport) scan(ctx context.Context, root string, m *ignore.Matcher) ([]treesync.Entry, error) {
	var out []treesync.Entry
	var walk func(rel string) error
	walk = func(rel string) error {
		infos, err := t.sftp.ReadDirContext(ctx, path.Join(root, rel))
		if err != nil {
			return err
		}
		sort.Slice(infos, func(i, j int) bool { return infos[i].Name() < infos[j].Name() })
		for _, fi := range infos {
			p := path.Join(rel, fi.Name())
			if m.Ignored(p, fi.IsDir()) {
				continue
			}
			var link string
			if fi.Mode()&fs.ModeSymlink != 0 {
				if link, err = t.sftp.ReadLink(path.Join(root, p)); err != nil {
					return err
				}
			}
			e, ok := treesync.EntryFromInfo(p, fi, link)
			if !ok {
				continue
			}
			out = append(out, e)
			if fi.IsDir() {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, fmt.Errorf("list remote tree: %w", err)
	}
	return out, nil
}

// apply carries out a plan from the local tree src onto the remote tree dst, in the order Plan prescribes.
func (t *Transport) apply(ctx context.Context, src, dst string, plan treesync.Plan) error {
	at := func(rel string) string { return path.Join(dst, rel) }
	for _, p := range plan.Replace {
		if err := t.sftp.RemoveAll(at(p)); err != nil {
			return err
		}
	}
	for _, e := range plan.Delete {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := t.sftp.Remove(at(e.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			if e.IsDir() {
				if left, lerr := t.sftp.ReadDir(at(e.Path)); lerr == nil && len(left) > 0 {
					continue // it holds ignored files, which a sync keeps
				}
			}
			return err
		}
	}
	// Directories stay writable while files go in; their own permissions are set last.
	for _, e := range plan.Mkdir {
		if err := t.sftp.Mkdir(at(e.Path)); err != nil {
			if fi, serr := t.sftp.Lstat(at(e.Path)); serr != nil || !fi.IsDir() {
				return err
			}
		}
		if err := t.sftp.Chmod(at(e.Path), e.Mode.Perm()|0o700); err != nil {
			return err
		}
	}
	if err := t.copyAll(ctx, src, dst, plan.Copy); err != nil {
		return err
	}
	for i := len(plan.Mkdir) - 1; i >= 0; i-- {
		e := plan.Mkdir[i]
		if err := t.sftp.Chmod(at(e.Path), e.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// copyAll writes files and symlinks with copyWorkers at a time; the first error stops the rest.
func (t *Transport) copyAll(ctx context.Context, src, dst string, entries []treesync.Entry) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan treesync.Entry)
	var wg sync.WaitGroup
	for range min(copyWorkers, len(entries)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				if err := t.copyEntry(ctx, src, path.Join(dst, e.Path), e); err != nil {
					cancel(fmt.Errorf("%s: %w", e.Path, err))
				}
			}
		}()
	}
feed:
	for _, e := range entries {
		select {
		case work <- e:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// copyEntry writes one file or symlink of the source tree at the remote path dst.
func (t *Transport) copyEntry(ctx context.Context, src, dst string, e treesync.Entry) error {
	if e.IsLink() {
		if err := t.sftp.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return t.sftp.Symlink(e.Link, dst)
	}
	_, err := t.writeFile(ctx, filepath.Join(src, filepath.FromSlash(e.Path)), dst, e.Mode.Perm(), e.ModTime)
	return err
}

// syncFile copies one file to the remote path dst unless it already has the same size, time and mode.
func (t *Transport) syncFile(ctx context.Context, src, dst string, fi fs.FileInfo) (transport.SyncStats, error) {
	if err := ctx.Err(); err != nil {
		return transport.SyncStats{}, err
	}
	s, _ := treesync.EntryFromInfo(path.Base(dst), fi, "")
	if di, err := t.sftp.Lstat(dst); err == nil {
		if d, ok := treesync.EntryFromInfo(s.Path, di, ""); ok && treesync.Unchanged(s, d, timePrecision) {
			return transport.SyncStats{Skipped: 1}, nil
		}
		if di.IsDir() {
			return transport.SyncStats{}, fmt.Errorf("%s is a directory; give the file's own path as destination", dst)
		}
	}
	if err := t.sftp.MkdirAll(path.Dir(dst)); err != nil {
		return transport.SyncStats{}, err
	}
	n, err := t.writeFile(ctx, src, dst, s.Mode.Perm(), s.ModTime)
	if err != nil {
		return transport.SyncStats{}, err
	}
	return transport.SyncStats{Copied: 1, Bytes: n}, nil
}

// shellNode is the node as tarsync sees it when sshd has no SFTP subsystem: scripts and tar run in sessions.
type shellNode struct{ t *Transport }

func (n shellNode) Script(ctx context.Context, script string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := "sh -c " + transport.Quote(script) + " stix"
	for _, a := range args {
		cmd += " " + transport.Quote(a)
	}
	return n.t.Run(ctx, cmd, transport.RunOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func (n shellNode) Untar(ctx context.Context, dir string, stream func(io.Writer) error) error {
	return tarsync.Pipe(stream, func(r io.Reader) error {
		var errOut strings.Builder
		code, err := n.Script(ctx, tarsync.UntarScript, []string{dir}, r, nil, &errOut)
		if err == nil && code != 0 {
			err = fmt.Errorf("tar: exit status %d: %s", code, strings.TrimSpace(errOut.String()))
		}
		return err
	})
}

package docker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/tarsync"
)

// Sync makes the remote path dst a copy of the local path src (a directory's contents, or one file): it lists
// dst with one exec, removes what must go with another, and sends what changed as one tar stream
// (package tarsync) through the Engine's archive endpoint.
func (t *Transport) Sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	dstPath, err := t.Resolve(ctx, dst)
	if err != nil {
		return transport.SyncStats{}, fmt.Errorf("sync %s to docker container %s: %w", src, short(t.id), err)
	}
	st, err := tarsync.Sync(ctx, execNode{t}, src, dstPath, opts)
	if err != nil {
		return st, fmt.Errorf("sync %s to %s on docker container %s: %w", src, dstPath, short(t.id), err)
	}
	return st, nil
}

// Upload writes localPath to remotePath with permissions mode, atomically: the file goes in under a temporary
// name beside its destination and is renamed over it.
func (t *Transport) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	dst, err := t.Resolve(ctx, remotePath)
	if err != nil {
		return fmt.Errorf("upload %s to docker container %s: %w", localPath, short(t.id), err)
	}
	if err := tarsync.Upload(ctx, execNode{t}, localPath, dst, mode); err != nil {
		return fmt.Errorf("upload %s to %s on docker container %s: %w", localPath, dst, short(t.id), err)
	}
	return nil
}

// execNode is the container as tarsync sees it: scripts run as execs, tar streams go through the Engine's
// archive endpoint.
type execNode struct{ t *Transport }

func (n execNode) Script(ctx context.Context, script string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return n.t.exec(ctx, append([]string{"/bin/sh", "-c", script, "stix"}, args...),
		execOptions{stdin: stdin, stdout: stdout, stderr: stderr})
}

// Untar copies the stream into dir through the Engine's archive endpoint; when dir is missing it is created
// and the stream written again.
func (n execNode) Untar(ctx context.Context, dir string, stream func(io.Writer) error) error {
	copyIn := func() error {
		return tarsync.Pipe(stream, func(r io.Reader) error {
			return n.t.cli.CopyToContainer(ctx, n.t.id, dir, bufio.NewReaderSize(r, 1<<16))
		})
	}
	err := copyIn()
	if dockerapi.IsNotFound(err) {
		var errOut strings.Builder
		code, xerr := n.Script(ctx, `mkdir -p -- "$1"`, []string{dir}, nil, nil, &errOut)
		switch {
		case xerr != nil:
			return fmt.Errorf("create %s: %w", dir, xerr)
		case code != 0:
			return fmt.Errorf("create %s: exit status %d: %s", dir, code, strings.TrimSpace(errOut.String()))
		}
		err = copyIn()
	}
	return err
}

package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent/tail"
)

// A service's own logs (the controller's and the load balancer's) are files under Dir/services/NAME, each
// bounded: past maxLogSize it is renamed NAME.log.1 (replacing the previous one) and started again, so a
// service keeps at most twice that per log however long it runs.
const (
	controllerLogName = "controller.log"
	lbLogName         = "load_balancer.log"
	maxLogSize        = 1 << 20
	// followEvery is how often a follower looks for more of a log (and for the service being gone).
	followEvery = 250 * time.Millisecond
)

// lbLogPath is where a service's load-balancer log is kept.
func (c *Controller) lbLogPath(name string) string {
	return filepath.Join(c.opts.Dir, "services", name, lbLogName)
}

// rotatingFile is an append-only log file that starts again, keeping the previous one as PATH.1, once it
// passes max bytes.
type rotatingFile struct {
	path string
	max  int64
	mu   sync.Mutex
	f    *os.File
	size int64
}

func openRotating(path string, max int64) (*rotatingFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	r := &rotatingFile{path: path, max: max}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p (one log line: never split over two files), rotating first when p would pass the limit.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fs.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		r.f.Close()
		r.f = nil
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			return 0, err
		}
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// Close closes the file.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// ServeLogs writes one of a service's logs: a replica's output (its cluster's job, through the core), the
// load balancer's log, or the controller's (the default). Tail keeps the last lines; Follow goes on as the log
// grows, until ctx ends or the service is gone (a replica's output: until its job ends).
func (c *Controller) ServeLogs(ctx context.Context, name string, opts api.ServeLogsOptions, w io.Writer) error {
	if _, err := c.owned(ctx, name); err != nil {
		return err
	}
	if opts.Tail < 0 {
		return badRequest("--tail must be 0 or more, got %d", opts.Tail)
	}
	if opts.ReplicaID > 0 {
		_, err := c.opts.Core.Logs(ctx, ReplicaCluster(name, opts.ReplicaID), 0, api.LogsOptions{Follow: opts.Follow, Tail: opts.Tail}, w)
		var nf *api.ClusterNotFoundError
		if errors.As(err, &nf) {
			return badRequest("service %s has no replica %d running (`stix serve status %s` lists them)", name, opts.ReplicaID, name)
		}
		return err
	}
	path := c.logPath(name)
	if opts.LoadBalancer {
		path = c.lbLogPath(name)
	}
	gone := func() bool {
		_, err := c.st.Get(ctx, name)
		var nf *api.ServiceNotFoundError
		return errors.As(err, &nf)
	}
	return followLog(ctx, path, opts.Tail, opts.Follow, gone, w)
}

// followLog writes a rotating log: what it holds (PATH.1, then PATH), cut to its last tailN lines when tailN > 0;
// then, following, what is added (across rotations) until ctx ends or gone says the writer is gone for good.
// It looks every followEvery: a log that rotated twice in between (2 MiB in a quarter second) loses lines.
func followLog(ctx context.Context, path string, tailN int, follow bool, gone func() bool, w io.Writer) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		f = nil // nothing logged yet
	} else if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var first bytes.Buffer
	if old, err := os.ReadFile(path + ".1"); err == nil {
		first.Write(old)
	}
	if f != nil {
		if _, err := io.Copy(&first, f); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	out := first.Bytes()
	if tailN > 0 {
		out = tail.LastLines(out, tailN)
	}
	if _, err := w.Write(out); err != nil || !follow {
		return err
	}
	t := time.NewTicker(followEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Asked first, so that what the writer logged before it went is still copied below.
		ended := gone()
		// What the open file gained (also what it got before being rotated away), then a newer file if
		// the path now names one.
		if f != nil {
			if _, err := io.Copy(w, f); err != nil {
				return err
			}
		}
		if nf, err := os.Open(path); err == nil {
			if f != nil && sameFile(f, nf) {
				nf.Close()
			} else {
				if f != nil {
					f.Close()
				}
				f = nf
				if _, err := io.Copy(w, f); err != nil {
					return err
				}
			}
		}
		if ended {
			return nil
		}
	}
}

func sameFile(a, b *os.File) bool {
	sa, err1 := a.Stat()
	sb, err2 := b.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

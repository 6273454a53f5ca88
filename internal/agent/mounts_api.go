package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The mount routes (docs/storage-mounts.md). Each answers one entry per mount, with that mount's error.

func (a *agent) handleListMounts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, a.mounts.list())
}

func (a *agent) handleMount(w http.ResponseWriter, r *http.Request) {
	var req MountsRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, a.mounts.mount(r.Context(), req))
}

func (a *agent) handleFlushMounts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, a.mounts.flush(r.Context()))
}

func (a *agent) handleUnmount(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, a.mounts.unmount(r.Context()))
}

func (a *agent) handleMountCapability(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, ProbeMount())
}

// Mount makes the node's mounts (POST /v1/mounts). The answer has an entry per mount; the error, a *MountError,
// names every mount that failed.
func (c *Client) Mount(ctx context.Context, req MountsRequest) (MountsResponse, error) {
	var r MountsResponse
	if err := c.call(ctx, long, http.MethodPost, "/v1/mounts", nil, req, &r); err != nil {
		return r, err
	}
	return r, mountErrors(r)
}

// Mounts lists the node's mounts (GET /v1/mounts).
func (c *Client) Mounts(ctx context.Context) (MountsResponse, error) {
	var r MountsResponse
	return r, c.call(ctx, quick, http.MethodGet, "/v1/mounts", nil, nil, &r)
}

// FlushMounts waits until the node's MOUNT_CACHED mounts have uploaded what was written (POST /v1/mounts/flush).
func (c *Client) FlushMounts(ctx context.Context) (MountsResponse, error) {
	var r MountsResponse
	if err := c.call(ctx, long, http.MethodPost, "/v1/mounts/flush", nil, struct{}{}, &r); err != nil {
		return r, err
	}
	return r, mountErrors(r)
}

// Unmount flushes and removes every mount of the node (POST /v1/mounts/unmount).
func (c *Client) Unmount(ctx context.Context) (MountsResponse, error) {
	var r MountsResponse
	if err := c.call(ctx, long, http.MethodPost, "/v1/mounts/unmount", nil, struct{}{}, &r); err != nil {
		return r, err
	}
	return r, mountErrors(r)
}

// MountCapability asks whether the node can make FUSE mounts (GET /v1/mounts/capability).
func (c *Client) MountCapability(ctx context.Context) (MountCapability, error) {
	var r MountCapability
	return r, c.call(ctx, quick, http.MethodGet, "/v1/mounts/capability", nil, nil, &r)
}

// flushJobMounts asks every node the job ran on to flush its MOUNT_CACHED mounts before the job's end is
// recorded, so that a job reported finished has its outputs in the bucket. A failure goes into the job's log and
// the agent's log; a job that would have SUCCEEDED becomes FAILED (its outputs are not all where it put them),
// any other end keeps its state with the failure added to its message.
func (h *head) flushJobMounts(r *jobRun, o outcome, logs *jobLogs) outcome {
	h.mu.Lock()
	nodes := map[int]procAPI{}
	for _, a := range r.place {
		if a.Node < len(h.nodes) {
			nodes[a.Node] = h.nodes[a.Node]
		}
	}
	if r.spec.Setup != "" { // setup ran on every node
		for i, n := range h.nodes {
			nodes[i] = n
		}
	}
	h.mu.Unlock()
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	start := time.Now()
	for i, n := range nodes {
		wg.Go(func() {
			var err error
			switch api := n.(type) {
			case *procManager:
				err = mountErrors(h.a.mounts.flush(h.ctx))
			case *Client:
				_, err = api.FlushMounts(h.ctx)
				if errors.Is(err, ErrNotFound) {
					err = nil // an agent without the mount routes has no mounts
				}
			}
			if err != nil && h.ctx.Err() == nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("node %d: %v", i, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) == 0 {
		if d := time.Since(start); d > time.Second {
			h.a.log.Info("job's bucket writes flushed", "job", r.id, "took", d.Round(time.Millisecond))
		}
		return o
	}
	msg := "MOUNT_CACHED flush failed, some files the job wrote may not be in the bucket: " + strings.Join(failures, "; ")
	h.a.log.Error("flush bucket mounts at job end", "job", r.id, "err", msg)
	logs.line("ERROR: Job %d: %s", r.id, msg)
	if o.Status == StatusSucceeded {
		o.Status = StatusFailed
	}
	o.Message = strings.TrimPrefix(o.Message+"; "+msg, "; ")
	return o
}

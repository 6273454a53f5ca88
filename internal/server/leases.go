package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/store"
)

// DefaultLeaseTTL is how long a request's lease lasts unless its server renews it (every third of it): the
// longest a request of a killed server stays RUNNING before another server sharing the database ends it.
const DefaultLeaseTTL = 30 * time.Second

// errLeaseLost is the cause of the cancellation of a request whose lease this process lost.
var errLeaseLost = errors.New("the API server lost the request's lease")

// leaseName is the lease under which a request runs.
func leaseName(id string) string { return "request/" + id }

// takeOver takes the lease of a request in flight that this process does not run, and reports whether it
// did: the lease of a dead predecessor over this directory is released first; any other holder's live lease
// means another server runs the request.
func (r *requests) takeOver(ctx context.Context, id, holder string) (bool, error) {
	if holder != r.holder && strings.HasPrefix(holder, r.holderPrefix) {
		if err := r.st.ReleaseLease(ctx, leaseName(id), holder); err != nil {
			return false, err
		}
	}
	_, err := r.st.AcquireLease(ctx, leaseName(id), r.holder, r.ttl)
	switch {
	case errors.Is(err, store.ErrLeaseHeld):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// holdLease renews the request's lease every third of its TTL while the request runs. If the lease is lost
// (this process could not renew it in time, and another may have ended the request) the request is
// cancelled. The returned function stops renewing and releases the lease.
func (r *requests) holdLease(ctx context.Context, log *slog.Logger, id string) (stop func()) {
	r.mu.Lock()
	lr := r.live[id]
	r.mu.Unlock()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(r.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			_, err := r.st.RenewLease(context.WithoutCancel(ctx), leaseName(id), r.holder, r.ttl)
			if errors.Is(err, store.ErrLeaseLost) {
				log.Error("request lease lost; cancelling the request", "err", err)
				if lr != nil {
					lr.cancel(errLeaseLost)
				}
				return
			}
			if err != nil {
				log.Warn("renew request lease", "err", err)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		if err := r.st.ReleaseLease(context.WithoutCancel(ctx), leaseName(id), r.holder); err != nil {
			log.Warn("release request lease", "err", err)
		}
	}
}

// sweep ends, every TTL until ctx is done, the requests whose server died while this one runs.
func (r *requests) sweep(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(r.ttl)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := r.endInFlight(ctx, restartedError)
		if err != nil && ctx.Err() == nil {
			log.Warn("end the requests of dead server processes", "err", fmt.Sprint(err))
		}
		if n > 0 {
			log.Warn("requests left in flight by a dead server process marked FAILED", "count", n)
		}
	}
}

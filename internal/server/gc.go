package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/upload"
)

// Garbage collection defaults.
const (
	// DefaultRequestRetention is how long a finished request and its events are kept: SkyPilot's
	// api_server.requests_retention_hours default (24).
	DefaultRequestRetention = 24 * time.Hour
	// DefaultUploadTTL is how long an uploaded tree that no live request names and no one pins is kept after
	// its last commit.
	DefaultUploadTTL = 24 * time.Hour
	// DefaultGCInterval is the time between two collections of a server.
	DefaultGCInterval = time.Hour
	// gcDeadline bounds one collection; it is also the life of the lease that keeps other servers from
	// collecting at the same time.
	gcDeadline = 10 * time.Minute
	// gcFirstAfter is when a server first collects after its start.
	gcFirstAfter = time.Minute
	// gcLease is the lease a collecting server holds.
	gcLease = "api-server/gc"
)

// GCOptions say what the server's garbage collection keeps.
type GCOptions struct {
	// RequestRetention: a finished request (SUCCEEDED, FAILED, CANCELLED) and its events are removed this long
	// after it ended. Zero: DefaultRequestRetention; negative: kept forever.
	RequestRetention time.Duration
	// UploadTTL: an uploaded tree that no live request names and UploadsInUse does not list is removed this long
	// after its last commit, with the blobs no other tree names. Zero: DefaultUploadTTL; negative: kept forever.
	UploadTTL time.Duration
	// Interval is the time between collections; zero: DefaultGCInterval; negative: no collection on a ticker
	// (CollectGarbage still works).
	Interval time.Duration
	// UploadsInUse, when set, lists the uploaded trees other parts of the server still need although no live
	// request names them: managed jobs keep their task's uploads until the job ends. An error skips the upload
	// collection (nothing is removed that might be in use).
	UploadsInUse func(ctx context.Context) ([]string, error)
}

// GCReport is what one collection removed.
type GCReport struct {
	// Skipped is true when another server sharing the database was collecting (it holds the lease).
	Skipped bool
	// Requests and Events are the finished requests removed and their events; Leases the expired lease rows of
	// ended requests.
	Requests, Events, Leases int64
	// Sessions are the expired dashboard sessions removed.
	Sessions int64
	Uploads  upload.Collected
}

// CollectGarbage runs one collection as of now: finished requests older than the retention, with their events;
// the lease rows of ended requests once expired; expired dashboard sessions; uploads no live request names and no one pins (see GCOptions),
// older than the upload TTL. Only one server sharing the database collects at a time: it holds the lease
// "api-server/gc", and a server that finds it held does nothing (Skipped).
func (s *Server) CollectGarbage(ctx context.Context, now time.Time) (GCReport, error) {
	var rep GCReport
	r := s.reqs
	_, err := r.st.AcquireLease(ctx, gcLease, r.holder, gcDeadline)
	if errors.Is(err, store.ErrLeaseHeld) {
		rep.Skipped = true
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("garbage collection: %w", err)
	}
	defer func() {
		if err := r.st.ReleaseLease(context.WithoutCancel(ctx), gcLease, r.holder); err != nil {
			s.log.Warn("release the garbage collection lease", "err", err)
		}
	}()
	opts := s.opts.GC
	if keep := orDefault(opts.RequestRetention, DefaultRequestRetention); keep >= 0 {
		if rep.Requests, rep.Events, err = r.removeFinished(ctx, now.Add(-keep)); err != nil {
			return rep, fmt.Errorf("garbage collection of requests: %w", err)
		}
	}
	if rep.Leases, err = r.removeEndedLeases(ctx, now); err != nil {
		return rep, fmt.Errorf("garbage collection of request leases: %w", err)
	}
	if rep.Sessions, err = s.sessions.RemoveExpired(ctx, now); err != nil {
		return rep, fmt.Errorf("garbage collection of dashboard sessions: %w", err)
	}
	if ttl := orDefault(opts.UploadTTL, DefaultUploadTTL); ttl >= 0 && s.opts.UploadDir != "" {
		keep, err := s.uploadsInUse(ctx)
		if err != nil {
			return rep, fmt.Errorf("garbage collection of uploads: %w", err)
		}
		if rep.Uploads, err = upload.Collect(ctx, s.opts.UploadDir, keep, now.Add(-ttl)); err != nil {
			return rep, fmt.Errorf("garbage collection of uploads: %w", err)
		}
	}
	return rep, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// removeFinished removes the requests that ended before cutoff, and their events.
func (r *requests) removeFinished(ctx context.Context, cutoff time.Time) (reqs, events int64, err error) {
	const old = `SELECT id FROM requests WHERE status NOT IN ('PENDING','RUNNING') AND finished IS NOT NULL AND finished < ?`
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, r.q(`DELETE FROM request_events WHERE request_id IN (`+old+`)`), cutoff.UnixNano())
	if err != nil {
		return 0, 0, err
	}
	events, _ = res.RowsAffected()
	res, err = tx.ExecContext(ctx, r.q(`DELETE FROM requests WHERE id IN (`+old+`)`), cutoff.UnixNano())
	if err != nil {
		return 0, 0, err
	}
	reqs, _ = res.RowsAffected()
	return reqs, events, tx.Commit()
}

// removeEndedLeases removes the lease rows of requests no longer in flight (ended, or removed) once expired:
// a released lease stays as an expired row (store.ReleaseLease), one per request ever run.
func (r *requests) removeEndedLeases(ctx context.Context, now time.Time) (int64, error) {
	res, err := r.db.ExecContext(ctx, r.q(`DELETE FROM leases WHERE name LIKE 'request/%' AND expires_at < ?
		AND NOT EXISTS (SELECT 1 FROM requests WHERE 'request/' || requests.id = leases.name AND requests.status IN ('PENDING','RUNNING'))`),
		now.UnixNano())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// uploadsInUse are the trees the live requests name (TaskSpec.Uploads of their task) and those
// GCOptions.UploadsInUse lists.
func (s *Server) uploadsInUse(ctx context.Context) (map[string]bool, error) {
	keep := map[string]bool{}
	rows, err := s.reqs.db.QueryContext(ctx, s.reqs.q(`SELECT body FROM requests WHERE status IN ('PENDING','RUNNING')`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var body sql.NullString
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var b struct {
			Task api.TaskSpec `json:"task"`
		}
		// A body that names no task (stop, down, ...) holds no upload.
		if json.Unmarshal([]byte(body.String), &b) == nil {
			for _, id := range b.Task.Uploads {
				keep[id] = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if f := s.opts.GC.UploadsInUse; f != nil {
		ids, err := f(ctx)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			keep[id] = true
		}
	}
	return keep, nil
}

// collectEvery runs a collection a minute after the start (a server restarted often still collects), then every
// interval until ctx is done, each within gcDeadline.
func (s *Server) collectEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTimer(min(interval, gcFirstAfter))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(interval)
		}
		cctx, cancel := context.WithTimeout(ctx, gcDeadline)
		rep, err := s.CollectGarbage(cctx, time.Now())
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("garbage collection", "err", err.Error())
		case rep.Skipped:
		case rep.Requests+rep.Leases+rep.Sessions+int64(rep.Uploads.Trees+rep.Uploads.Blobs+rep.Uploads.Partials) > 0:
			s.log.Info("garbage collection", slog.Int64("requests", rep.Requests), slog.Int64("events", rep.Events),
				slog.Int64("leases", rep.Leases), slog.Int64("sessions", rep.Sessions), slog.Int("trees", rep.Uploads.Trees), slog.Int("blobs", rep.Uploads.Blobs),
				slog.Int("partials", rep.Uploads.Partials), slog.Int64("bytes", rep.Uploads.Bytes))
		}
	}
}

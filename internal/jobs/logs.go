package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/agent/tail"
)

// JobsLogs writes a job's output (id 0: the caller's latest job) as the controller kept it — every task in
// order, every launch of each — or its controller log; with Follow it goes on until the job ends. It returns
// the job's tasks as they stand then.
func (c *Controller) JobsLogs(ctx context.Context, id int64, opts api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
	if id == 0 {
		f := Filter{Limit: 1}
		if user, all := caller(ctx); !all {
			f.User = user
		}
		jobs, err := c.st.Jobs(ctx, f)
		if err != nil {
			return nil, err
		}
		if len(jobs) == 0 {
			return nil, &api.ManagedJobNotFoundError{}
		}
		id = jobs[0].ID
	}
	j, tasks, err := c.owned(ctx, id)
	if err != nil {
		return nil, err
	}
	dir := c.jobDir(id)
	cur := &cursor{}
	next := func(tasks []Task, w io.Writer) error {
		if opts.Controller {
			return cur.copyFile(filepath.Join(dir, ControllerLog), w)
		}
		return cur.copyRuns(dir, tasks, w)
	}
	// The first pass, cut to the last Tail lines when asked.
	var first bytes.Buffer
	if err := next(tasks, &first); err != nil {
		return nil, err
	}
	out := first.Bytes()
	if opts.Tail > 0 {
		out = tail.LastLines(out, opts.Tail)
	}
	if _, err := w.Write(out); err != nil {
		return nil, err
	}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for opts.Follow && !j.Status.Terminal() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		if j, tasks, err = c.st.Job(ctx, id); err != nil {
			return nil, err
		}
		if err := next(tasks, w); err != nil {
			return nil, err
		}
	}
	return c.st.Queue(ctx, Filter{IDs: []int64{id}, Events: true}, c.opts.Now())
}

// cursor is how far a follower has read a job's kept output: task, launch (1-based) and offset.
type cursor struct {
	task, run int
	off       int64
}

// copyRuns copies what was added to the job's run logs since the cursor, moving on to the next launch and
// the next task as they come.
func (cur *cursor) copyRuns(dir string, tasks []Task, w io.Writer) error {
	for cur.task < len(tasks) {
		t := tasks[cur.task]
		if cur.run == 0 {
			cur.run = 1
		}
		if cur.run <= t.Attempt {
			if err := cur.copyFile(filepath.Join(dir, RunLog(cur.task, cur.run)), w); err != nil {
				return err
			}
		}
		switch {
		case cur.run < t.Attempt: // a later launch exists: this one's output is complete
			cur.run, cur.off = cur.run+1, 0
		case t.Status.Terminal() && cur.task+1 < len(tasks):
			cur.task, cur.run, cur.off = cur.task+1, 0, 0
		default:
			return nil
		}
	}
	return nil
}

// copyFile copies what path holds past the cursor's offset. A file rewritten shorter (the controller attached
// to the job again after a restart) is read from its start.
func (cur *cursor) copyFile(path string, w io.Writer) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() < cur.off {
		cur.off = 0
	}
	if _, err := f.Seek(cur.off, io.SeekStart); err != nil {
		return err
	}
	n, err := io.Copy(w, f)
	cur.off += n
	return err
}

package queue

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// printQueue writes SkyPilot's managed-jobs table: a line counting the tasks in progress (stderr), then a row per
// single-task job, and for a pipeline a row for the job followed by one indented row per task.
func printQueue(opts *QueueOptions, rows []api.ManagedJob) error {
	s := opts.IO
	fmt.Fprintln(s.ErrOut, inProgress(rows))
	if len(rows) == 0 {
		return nil
	}
	jobs := groupJobs(rows)
	q := queueTable{now: opts.Now(), verbose: opts.Verbose, user: opts.AllUsers, workspace: opts.Verbose || workspaces(rows) > 1}
	t := cli.NewTable(s, q.headers()...)
	for i, tasks := range jobs {
		if len(tasks) == 1 {
			t.AddCells(q.taskRow(tasks[0], false)...)
			continue
		}
		t.AddCells(q.jobRow(tasks)...)
		for _, task := range tasks {
			t.AddCells(q.taskRow(task, true)...)
		}
		if s.IsStdoutTTY() && i < len(jobs)-1 {
			t.AddRow() // a blank line after a pipeline, on a terminal: scripts get rows only
		}
	}
	return t.Render()
}

// inProgress is SkyPilot's first line: the unfinished tasks counted by state.
func inProgress(rows []api.ManagedJob) string {
	counts := map[api.ManagedJobStatus]int{}
	for _, r := range rows {
		if !r.Status.Terminal() {
			counts[r.Status]++
		}
	}
	if len(counts) == 0 {
		return "No in-progress managed jobs."
	}
	var states []string
	for st := range counts {
		states = append(states, string(st))
	}
	slices.Sort(states)
	parts := make([]string, len(states))
	for i, st := range states {
		parts[i] = fmt.Sprintf("%d %s", counts[api.ManagedJobStatus(st)], st)
	}
	return "In progress tasks: " + strings.Join(parts, ", ")
}

// groupJobs gathers the rows of each job (its tasks, in order), jobs in the order the server gave them.
func groupJobs(rows []api.ManagedJob) [][]api.ManagedJob {
	var jobs [][]api.ManagedJob
	at := map[int64]int{}
	for _, r := range rows {
		i, ok := at[r.ID]
		if !ok {
			i = len(jobs)
			at[r.ID] = i
			jobs = append(jobs, nil)
		}
		jobs[i] = append(jobs[i], r)
	}
	for _, tasks := range jobs {
		slices.SortStableFunc(tasks, func(a, b api.ManagedJob) int { return a.TaskID - b.TaskID })
	}
	return jobs
}

func workspaces(rows []api.ManagedJob) int {
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Workspace] = true
	}
	return len(seen)
}

// queueTable says which columns the table has and how cells read.
type queueTable struct {
	now                      time.Time
	verbose, user, workspace bool
}

func (q queueTable) headers() []string {
	h := []string{"ID", "TASK"}
	if q.workspace {
		h = append(h, "WORKSPACE")
	}
	h = append(h, "NAME")
	if q.user {
		h = append(h, "USER")
	}
	h = append(h, "REQUESTED", "SUBMITTED", "TOT. DURATION", "JOB DURATION", "#RECOVERIES", "STATUS")
	if q.verbose {
		h = append(h, "STARTED", "INFRA", "CLUSTER", "DETAILS")
	}
	return h
}

// row lays out the cells of one row in the headers' order.
func (q queueTable) row(id, task, workspace, name, user, requested string, submitted time.Time, end *time.Time,
	jobDuration api.Seconds, recoveries int, status cli.Cell, started *time.Time, infra, cluster, details string) []cli.Cell {
	c := []cli.Cell{{Text: id}, {Text: task}}
	if q.workspace {
		c = append(c, cli.Cell{Text: dash(workspace)})
	}
	c = append(c, cli.Cell{Text: dash(name)})
	if q.user {
		c = append(c, cli.Cell{Text: dash(user)})
	}
	c = append(c, cli.Cell{Text: dash(requested)}, cli.Cell{Text: cli.RelativeTime(q.now, submitted)},
		cli.Cell{Text: q.total(submitted, end)}, cli.Cell{Text: duration(jobDuration)},
		cli.Cell{Text: strconv.Itoa(recoveries)}, status)
	if q.verbose {
		st := "-"
		if started != nil {
			st = cli.RelativeTime(q.now, *started)
		}
		c = append(c, cli.Cell{Text: st}, cli.Cell{Text: dash(infra)}, cli.Cell{Text: dash(cluster)}, cli.Cell{Text: details})
	}
	return c
}

// taskRow is a single-task job's row, or (inPipeline) a pipeline task's row under its job's.
func (q queueTable) taskRow(t api.ManagedJob, inPipeline bool) []cli.Cell {
	id, task, name := strconv.FormatInt(t.ID, 10), "-", t.TaskName
	if name == "" {
		name = t.Name
	}
	if inPipeline {
		id, task = " ↳", strconv.Itoa(t.TaskID)
	}
	return q.row(id, task, t.Workspace, name, t.User, t.Resources, t.SubmittedAt, t.EndedAt, t.JobDuration,
		t.Recoveries, cli.Styled(string(t.Status), cli.StateStyle(string(t.Status))), t.StartedAt, t.Infra, t.Cluster, details(t))
}

// jobRow is a pipeline's own row: its tasks summed up, its state the first unfinished task's.
func (q queueTable) jobRow(tasks []api.ManagedJob) []cli.Cell {
	first := tasks[0]
	submitted, end := first.SubmittedAt, first.EndedAt
	var jobDuration api.Seconds
	recoveries := 0
	for _, t := range tasks {
		if !t.SubmittedAt.IsZero() && t.SubmittedAt.Before(submitted) {
			submitted = t.SubmittedAt
		}
		switch {
		case t.EndedAt == nil:
			end = nil
		case end != nil && t.EndedAt.After(*end):
			end = t.EndedAt
		}
		jobDuration += t.JobDuration
		recoveries += t.Recoveries
	}
	status, current := cli.ManagedJobState(tasks)
	text := string(status)
	if !status.Terminal() {
		text += fmt.Sprintf(" (task: %d)", current)
	}
	var cur api.ManagedJob
	for _, t := range tasks {
		if t.TaskID == current {
			cur = t
		}
	}
	return q.row(strconv.FormatInt(first.ID, 10), "", "", first.Name, first.User, "-", submitted, end, jobDuration,
		recoveries, cli.Styled(text, cli.StateStyle(string(status))), nil, "", "", details(cur))
}

// total is TOT. DURATION: from submission to the end, or to now for a job still in progress.
func (q queueTable) total(submitted time.Time, end *time.Time) string {
	if submitted.IsZero() {
		return "-"
	}
	to := q.now
	if end != nil {
		to = *end
	}
	return cli.FormatDuration(to.Sub(submitted))
}

// details is the DETAILS column: why each recovery happened (the reasons the controller recorded, oldest
// first), then why the task failed or was cancelled.
func details(t api.ManagedJob) string {
	var why []string
	for _, e := range t.Events {
		if e.Status != api.ManagedRecovering {
			continue
		}
		r := e.Reason
		if r == "" {
			r = "unknown"
		}
		if e.Message != "" {
			r += " (" + e.Message + ")"
		}
		why = append(why, r)
	}
	var parts []string
	if len(why) > 0 {
		parts = append(parts, fmt.Sprintf("Recovered %dx: %s", len(why), strings.Join(why, ", ")))
	}
	if t.FailureReason != "" {
		parts = append(parts, "Failure: "+t.FailureReason)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func duration(d api.Seconds) string {
	if d <= 0 {
		return "-"
	}
	return cli.FormatDuration(time.Duration(d))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package cli

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/api"
)

// ManagedJobExitCode is the exit code that stands for a managed job's status, as SkyPilot's `jobs logs` uses
// it: 0 succeeded, 100 failed (any FAILED_* state), 103 cancelled, 101 not finished (CANCELLING included).
func ManagedJobExitCode(s api.ManagedJobStatus) int {
	switch {
	case s == api.ManagedSucceeded:
		return ExitJobSucceeded
	case s == api.ManagedCancelled:
		return ExitJobCancelled
	case s.Failed():
		return ExitJobFailed
	}
	return ExitJobNotFinished
}

// ManagedJobState is the state of a job from its tasks' rows (in task order), as SkyPilot sums a pipeline up:
// the first task that has not SUCCEEDED gives the job's state, and task is that task's ID; a job whose tasks
// all SUCCEEDED is SUCCEEDED (task is the last one's).
func ManagedJobState(tasks []api.ManagedJob) (status api.ManagedJobStatus, task int) {
	status = api.ManagedSucceeded
	for _, t := range tasks {
		status, task = t.Status, t.TaskID
		if t.Status != api.ManagedSucceeded {
			break
		}
	}
	return status, task
}

// FollowManagedJob streams a managed job's output until it ends, says how it ended on stderr and returns the
// exit code that stands for its state (nil for success). Ctrl-C stops the streaming, not the job.
func FollowManagedJob(ctx context.Context, s *IOStreams, c api.Client, id int64) error {
	fmt.Fprintf(s.ErrOut, "%sStreaming the logs of managed job %d... (Ctrl-C to exit log streaming; the job will not be killed)\n", stepSymbol, id)
	tasks, err := c.JobsLogs(ctx, id, api.JobsLogsOptions{Follow: true}, s.Out)
	if err != nil {
		return err
	}
	status, _ := ManagedJobState(tasks)
	code := ManagedJobExitCode(status)
	line := fmt.Sprintf("Managed job finished: %d (status: %s).", id, status)
	switch {
	case code == ExitOK:
		fmt.Fprintln(s.ErrOut, s.Paint(Green, successSymbol+line))
		return nil
	case code == ExitJobNotFinished:
		line = fmt.Sprintf("Managed job %d is %s; see `stix jobs queue`.", id, status)
	}
	for _, t := range tasks {
		if t.FailureReason != "" {
			line += "\nFailure reason: " + t.FailureReason
		}
	}
	fmt.Fprintln(s.ErrOut, s.Paint(Red, failureSymbol+line))
	return SilentExit(code)
}

// PrintManagedJobHints prints SkyPilot's "useful commands" after a managed job was submitted.
func PrintManagedJobHints(s *IOStreams, id int64) {
	fmt.Fprintf(s.ErrOut, "Managed job ID: %d\n", id)
	fmt.Fprintf(s.ErrOut, "├── To cancel the job:           stix jobs cancel %d\n", id)
	fmt.Fprintf(s.ErrOut, "├── To stream job logs:          stix jobs logs %d\n", id)
	fmt.Fprintf(s.ErrOut, "├── To stream controller logs:   stix jobs logs --controller %d\n", id)
	fmt.Fprintln(s.ErrOut, "└── To view all managed jobs:    stix jobs queue")
}

package cli

import (
	"context"
	"fmt"

	"github.com/stix-run/stix/api"
)

// JobExitCode is the exit code that stands for a job's status, as SkyPilot's `logs --status` and a foreground
// launch or exec use it: 0 succeeded, 100 failed (any kind), 103 cancelled, 101 not finished.
func JobExitCode(s api.JobStatus) int {
	switch s {
	case api.JobSucceeded:
		return ExitJobSucceeded
	case api.JobFailed, api.JobFailedSetup, api.JobFailedDriver:
		return ExitJobFailed
	case api.JobCancelled:
		return ExitJobCancelled
	}
	return ExitJobNotFinished
}

// FollowJob streams a job's output until it ends, says how it ended on stderr and returns the exit code that
// stands for its status (nil for success). Ctrl-C stops the streaming, not the job.
func FollowJob(ctx context.Context, s *IOStreams, c api.Client, cluster string, id int) error {
	fmt.Fprintf(s.ErrOut, "%sJob %d started. Streaming logs... (Ctrl-C to exit log streaming; job will not be killed)\n", stepSymbol, id)
	job, err := c.Logs(ctx, cluster, id, api.LogsOptions{Follow: true}, s.Out)
	if err != nil {
		return err
	}
	code := JobExitCode(job.Status)
	line := fmt.Sprintf("Job finished (status: %s).", job.Status)
	if code == ExitOK {
		fmt.Fprintln(s.ErrOut, s.Paint(Green, successSymbol+line))
		return nil
	}
	fmt.Fprintln(s.ErrOut, s.Paint(Red, failureSymbol+line))
	return SilentExit(code)
}

// PrintJobHints prints SkyPilot's "useful commands" after a job was submitted.
func PrintJobHints(s *IOStreams, cluster string, id int) {
	fmt.Fprintf(s.ErrOut, "Job ID: %d\n", id)
	fmt.Fprintf(s.ErrOut, "├── To cancel the job:       stix cancel %s %d\n", cluster, id)
	fmt.Fprintf(s.ErrOut, "├── To stream job logs:      stix logs %s %d\n", cluster, id)
	fmt.Fprintf(s.ErrOut, "└── To view job queue:       stix queue %s\n", cluster)
}

// PrintNotices prints a task file's notes and deprecations on stderr.
func PrintNotices[N fmt.Stringer](s *IOStreams, notices []N) {
	for _, n := range notices {
		fmt.Fprintln(s.ErrOut, s.Paint(Yellow, n.String()))
	}
}

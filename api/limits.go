package api

import "fmt"

// MaxTaskBytes bounds what one task may carry, in one place for every reader: a task YAML file and an
// --env-file as read from disk, and a job's spec (run, setup, envs, secrets) as sent to the head agent, which
// refuses a larger request body (HTTP 413). Launch checks the job spec against it before provisioning. Data
// belongs in workdir or file_mounts, which have no such limit.
const MaxTaskBytes = 8 << 20

// TooLargeError says that something exceeds MaxTaskBytes.
type TooLargeError struct {
	What string // "task file task.yaml", "the job spec"
	Size int64  // bytes; -1 when only "more than the limit" is known (a stream that goes on)
	// Hint says what to do instead; empty: move data into workdir or file_mounts.
	Hint string
}

func (e *TooLargeError) Error() string {
	size := "larger than"
	if e.Size >= 0 {
		size = fmt.Sprintf("%.1f MiB, over", float64(e.Size)/(1<<20))
	}
	hint := e.Hint
	if hint == "" {
		hint = "put data in workdir or file_mounts instead of the task's run, setup or envs"
	}
	return fmt.Sprintf("%s is %s the %d MiB limit for task files and job specs: %s", e.What, size, MaxTaskBytes>>20, hint)
}

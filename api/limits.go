package api

import (
	"fmt"
	"io"
	"os"
)

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

// ReadFileLimited reads an input file (a task file, an env file, a config file) of at most MaxTaskBytes; what
// names it in the error ("task file"). A regular file that is larger fails before anything is read; anything
// else (a pipe, a device, a link to /dev/zero) is read only up to the limit, so an endless input fails fast
// rather than filling memory.
func ReadFileLimited(what, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxTaskBytes {
		return nil, &TooLargeError{What: what + " " + path, Size: fi.Size()}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxTaskBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxTaskBytes {
		return nil, &TooLargeError{What: what + " " + path, Size: -1}
	}
	return data, nil
}

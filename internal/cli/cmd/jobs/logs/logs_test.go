package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

func fake() *fakeclient.Client {
	return &fakeclient.Client{
		JobsQueueFunc: func(q api.JobsQueueOptions) ([]api.ManagedJob, error) {
			return []api.ManagedJob{{ID: 7, Name: "train", Status: api.ManagedRunning}}, nil
		},
		JobsLogsFunc: func(id int64, o api.JobsLogsOptions, w io.Writer) ([]api.ManagedJob, error) {
			if id != 7 {
				return nil, &api.ManagedJobNotFoundError{ID: id}
			}
			if o.Follow {
				return nil, fmt.Errorf("a download follows nothing")
			}
			fmt.Fprintf(w, "job %d controller=%v\n", id, o.Controller)
			return nil, nil
		},
	}
}

func run(t *testing.T, o LogsOptions) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o.IO = cli.Test(strings.NewReader(""), &out, &errOut)
	o.Ctx = context.Background()
	c := fake()
	o.Client = func() (api.Client, error) { return c, nil }
	o.LocalDir = t.TempDir()
	o.SyncDown = true
	err := logsRun(&o)
	return o.LocalDir, out.String(), err
}

// TestSyncDown: the job's output (or controller log) lands in ~/sky_logs/managed_jobs/job-id-ID/, as SkyPilot
// lays it out, and its path is printed; the latest job when none is named; an unknown job exits 102.
func TestSyncDown(t *testing.T) {
	for _, tt := range []struct {
		o          LogsOptions
		file, body string
	}{
		{LogsOptions{JobID: ptr(7)}, "run.log", "job 7 controller=false\n"},
		{LogsOptions{}, "run.log", "job 7 controller=false\n"},
		{LogsOptions{Name: "train", Controller: true}, "controller.log", "job 7 controller=true\n"},
	} {
		base, out, err := run(t, tt.o)
		path := filepath.Join(base, "managed_jobs", "job-id-7", tt.file)
		if err != nil || out != path+"\n" {
			t.Errorf("%+v: stdout %q, err %v; want %s", tt.o, out, err, path)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != tt.body {
			t.Errorf("%+v: %q %v, want %q", tt.o, b, err, tt.body)
		}
	}
	base, _, err := run(t, LogsOptions{JobID: ptr(9)})
	var se *cli.ExitError
	if !errors.As(err, &se) || se.Code != cli.ExitJobNotFound {
		t.Errorf("unknown job: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(base, "managed_jobs", "job-id-9")); len(ents) != 0 {
		t.Errorf("files left for an unknown job: %v", ents)
	}
}

func ptr[T any](v T) *T { return &v }

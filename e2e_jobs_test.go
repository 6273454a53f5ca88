package stix_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/jobs"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil"
)

// TestJobsServerKilled: a real `stix api start` process runs the managed jobs recorded in its state database;
// killed with kill -9 while they run, the next server over the same STIX_HOME resumes them at once — each
// re-attached to its cluster — and they succeed; none is FAILED_CONTROLLER. The jobs are recorded as the
// server's JobsLaunch records them, so that this test needs no CLI verb.
func TestJobsServerKilled(t *testing.T) {
	t.Parallel()
	const n = 3
	work := t.TempDir()
	home, marks := filepath.Join(work, ".stix"), t.TempDir()
	vars := []string{"HOME=" + work, "STIX_HOME=" + home, "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"), "NO_COLOR=1",
		"STIX_CATALOG_DIR=" + testutil.SharedDir(t, "catalogs/v7"), "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs"}
	ctx := context.Background()
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, home)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	js, err := jobs.OpenStore(st)
	if err != nil {
		t.Fatal(err)
	}
	run := "name: e2e\nenvs:\n  M: x\nrun: |\n  echo \"start $SKYPILOT_MANAGED_JOB_ID\"\n  until [ -f $M/go ]; do sleep 0.1; done\n  echo \"end $SKYPILOT_MANAGED_JOB_ID\"\n"
	for range n {
		now := time.Now()
		j := &jobs.Job{Name: "e2e", SubmittedAt: now, RunTimestamp: "sky-managed-e2e", Spec: jobs.JobSpec{Tasks: []jobs.TaskSpec{{
			Task: api.TaskSpec{YAML: run, FileName: "job.yaml", Env: map[string]string{"M": marks}}, Recovery: jobs.RecoveryOf(nil, "")}}}}
		if err := js.Insert(ctx, j, []jobs.Task{{Name: "e2e", Resources: "1x[-]"}}, now); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(binDir, "stix"), "down", "-a", "-y")
		cmd.Env = append(os.Environ(), append(vars, "STIX_API_SERVER_ENDPOINT=")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("down -a: %v: %s", err, out)
		}
	})
	statuses := func() map[api.ManagedJobStatus]int {
		rows, err := js.Queue(ctx, jobs.Filter{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out := map[api.ManagedJobStatus]int{}
		for _, r := range rows {
			out[r.Status]++
		}
		return out
	}
	waitAll := func(s api.ManagedJobStatus) {
		t.Helper()
		if err := pollFunc("every job "+string(s), func() (bool, error) {
			got := statuses()
			return got[s] == n, fmt.Errorf("states %v", got)
		}); err != nil {
			b, _ := os.ReadFile(filepath.Join(work, "apiserver.log"))
			t.Fatalf("%v\nserver log:\n%s", err, b)
		}
	}

	s1, err := launchServer(vars, work)
	if err != nil {
		t.Fatal(err)
	}
	waitAll(api.ManagedRunning)
	s1.stop(syscall.SIGKILL)

	s2, err := launchServer(vars, work)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.stop(syscall.SIGTERM)
	if err := os.WriteFile(filepath.Join(marks, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitAll(api.ManagedSucceeded)
	rows, err := js.Queue(ctx, jobs.Filter{Events: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var reasons []string
		for _, e := range r.Events {
			reasons = append(reasons, string(e.Status)+":"+e.Reason)
		}
		if got := strings.Join(reasons, " "); !strings.Contains(got, "RUNNING:reattached") || r.Recoveries != 0 {
			t.Errorf("job %d: recoveries %d, events %s", r.ID, r.Recoveries, got)
		}
		out, err := os.ReadFile(filepath.Join(home, "server", "jobs", strconv.FormatInt(r.ID, 10), jobs.RunLog(0, 1)))
		if err != nil || !strings.Contains(string(out), "end "+strconv.FormatInt(r.ID, 10)) {
			t.Errorf("job %d's kept output: %q, %v", r.ID, out, err)
		}
	}
}

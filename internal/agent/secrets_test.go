package agent

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// filesHolding lists the files under dir whose bytes contain value.
func filesHolding(t *testing.T, dir, value string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(value)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestSecretsLeaveNoTrace: a job's secrets reach its processes on every node, also when the job waited through
// an agent restart, and once the job has ended no file under any agent's directory holds them: not the job
// table, not its WAL, not a leftover file.
func TestSecretsLeaveNoTrace(t *testing.T) {
	t.Parallel()
	const value = "verysecretvalue"
	c := startCluster(t, "secrets", []nodeOpts{{cpus: 2}, {cpus: 2}})
	head := c.agents[0]
	gate := filepath.Join(t.TempDir(), "gate")
	blocker := c.submit(t, JobSpec{NumNodes: 2, DemandPerNode: Demand{CPUs: 2},
		Run: "while [ ! -f " + gate + " ]; do sleep 0.02; done"})
	c.waitStatus(t, blocker, StatusRunning)
	// The job prints facts about the value, never the value: the job's own output is not the agent's to redact.
	waiting := c.submit(t, JobSpec{NumNodes: 2, DemandPerNode: Demand{CPUs: 2},
		Secrets: map[string]string{"X": value}, Run: `echo "len=${#X} head=${X:0:4}"`})
	if j := c.waitStatus(t, waiting, StatusPending); j.Status != StatusPending {
		t.Fatalf("job %d is %s, want PENDING", waiting, j.Status)
	}
	if got := filesHolding(t, head.dir, "len=${#X}"); len(got) == 0 {
		t.Fatal("the pending job is not in the job table; the test would prove nothing")
	}

	head.kill9()
	head.start()
	c.head = head.client
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.waitStatus(t, waiting, StatusSucceeded)
	if out := c.logs(t, waiting, false, 0); strings.Count(out, "len=15 head=very") != 2 {
		t.Errorf("the secret did not reach both ranks after the restart:\n%s", out)
	}
	for _, a := range c.agents {
		if got := filesHolding(t, a.dir, value); len(got) > 0 {
			t.Errorf("the secret is still on disk after the job ended: %v", got)
		}
	}
}

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSubmitRunsJobToSuccess(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "solo", []nodeOpts{{cpus: 2}})
	id := c.submit(t, JobSpec{Name: "hello", Run: "echo hello from rank $SKYPILOT_NODE_RANK; echo to stderr >&2",
		DemandPerNode: Demand{CPUs: 0.5}, ResourcesStr: "1x[CPU:0.5]"})
	if id != 1 {
		t.Errorf("first job id = %d, want 1", id)
	}
	j := c.waitStatus(t, id, StatusSucceeded)
	if j.ExitCode == nil || *j.ExitCode != 0 || j.StartedAt == nil || j.EndedAt == nil || j.ResourcesStr != "1x[CPU:0.5]" {
		t.Errorf("job = %+v", j)
	}
	logs := c.logs(t, id, false, 0)
	// A single-node cluster prefixes lines with the job's name, as SkyPilot does.
	if !regexp.MustCompile(`(?m)^\(hello, pid=\d+\) hello from rank 0\n\(hello, pid=\d+\) to stderr\n$`).MatchString(logs) {
		t.Errorf("logs = %q", logs)
	}
	raw, err := os.ReadFile(filepath.Join(c.agents[0].dir, "logs", "1", "tasks", "0-head.log"))
	if err != nil || string(raw) != "hello from rank 0\nto stderr\n" {
		t.Errorf("raw rank log = %q, %v", raw, err)
	}
	// The node's process files are released once the head has the output.
	poll(t, 10*time.Second, "process files to be released", func() bool {
		m, _ := filepath.Glob(filepath.Join(c.agents[0].dir, "procs", "*"))
		return len(m) == 0
	})
	id2 := c.submit(t, JobSpec{Run: "exit 4"})
	j = c.waitStatus(t, id2, StatusFailed)
	if id2 != 2 || j.ExitCode == nil || *j.ExitCode != 4 {
		t.Errorf("failed job = %+v", j)
	}
	if logs := c.logs(t, id2, false, 0); !strings.Contains(logs, "ERROR: Job 2 failed with return code list: [4]") {
		t.Errorf("failed job's log = %q", logs)
	}
	// What a job leaves running in the background ends with it.
	pidFile := filepath.Join(t.TempDir(), "bg")
	id3 := c.submit(t, JobSpec{Run: fmt.Sprintf("sleep 600 > /dev/null 2>&1 & echo $! > %s", pidFile)})
	c.waitStatus(t, id3, StatusSucceeded)
	var pid int
	fmt.Sscan(waitFile(t, pidFile), &pid)
	if pid <= 0 {
		t.Fatalf("no pid in %s", pidFile)
	}
	waitGone(t, pid, "the job's background process")
}

// TestMultiNodeEnvironment checks every SKYPILOT_* variable, the log prefixes and the working directory of a
// 2-node job with setup.
func TestMultiNodeEnvironment(t *testing.T) {
	t.Parallel()
	gpus := []string{"STIX_FAKE_GPUS=H100:2"}
	c := startCluster(t, "mycluster", []nodeOpts{{env: gpus}, {env: gpus}})
	show := `printf 'IPS=%s\n' "$(echo "$SKYPILOT_NODE_IPS" | paste -sd, -)"
for v in SKYPILOT_NODE_RANK SKYPILOT_NUM_NODES SKYPILOT_NUM_GPUS_PER_NODE SKYPILOT_TASK_ID SKYPILOT_CLUSTER_INFO SKYPILOT_USER SKYPILOT_INTERNAL_JOB_ID CUDA_VISIBLE_DEVICES MY_ENV MY_SECRET; do
  printf '%s=%s\n' "$v" "${!v}"
done
echo "PWD=$PWD"; echo "HOME=$HOME"`
	setup := `printf 'SETUP_IPS=%s\n' "$(echo "$SKYPILOT_SETUP_NODE_IPS" | paste -sd, -)"
echo "SETUP_RANK=$SKYPILOT_SETUP_NODE_RANK SETUP_GPUS=$SKYPILOT_SETUP_NUM_GPUS_PER_NODE NUM_NODES=$SKYPILOT_NUM_NODES"`
	id := c.submit(t, JobSpec{Name: "envcheck", User: "bob", NumNodes: 2, Setup: setup, Run: show,
		DemandPerNode: Demand{CPUs: 1, Accelerators: map[string]float64{"H100": 1}},
		Envs:          map[string]string{"MY_ENV": "plain"}, Secrets: map[string]string{"MY_SECRET": "hunter2"}})
	j := c.waitStatus(t, id, StatusSucceeded)
	if !slices.Equal(j.Nodes, []int{0, 1}) || j.NumNodes != 2 {
		t.Errorf("job nodes = %v, num_nodes = %d", j.Nodes, j.NumNodes)
	}
	if !regexp.MustCompile(`^sky-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{6}_mycluster_1$`).MatchString(j.TaskID) {
		t.Errorf("task id %q", j.TaskID)
	}
	logs := c.logs(t, id, false, 0)
	lines := map[string]bool{}
	prefix := regexp.MustCompile(`^\((setup pid=\d+(, ip=127\.0\.0\.2)?|head, rank=0, pid=\d+|worker1, rank=1, pid=\d+, ip=127\.0\.0\.2)\) `)
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		m := prefix.FindString(l)
		if m == "" {
			t.Errorf("log line without a SkyPilot prefix: %q", l)
			continue
		}
		who := "head"
		switch {
		case strings.HasPrefix(m, "(setup") && strings.Contains(m, "ip="):
			who = "setup1"
		case strings.HasPrefix(m, "(setup"):
			who = "setup0"
		case strings.HasPrefix(m, "(worker1"):
			who = "worker1"
		}
		lines[who+" "+l[len(m):]] = true
	}
	info := `{"cluster_name": "mycluster", "cloud": "local", "region": "local", "zone": null}`
	for _, rank := range []struct{ who, n, dir string }{{"head", "0", c.agents[0].dir}, {"worker1", "1", c.agents[1].dir}} {
		for _, want := range []string{
			"IPS=127.0.0.1,127.0.0.2", "SKYPILOT_NODE_RANK=" + rank.n, "SKYPILOT_NUM_NODES=2",
			"SKYPILOT_NUM_GPUS_PER_NODE=1", "SKYPILOT_TASK_ID=" + j.TaskID, "SKYPILOT_CLUSTER_INFO=" + info,
			"SKYPILOT_USER=bob", "SKYPILOT_INTERNAL_JOB_ID=1", "CUDA_VISIBLE_DEVICES=0", "MY_ENV=plain",
			"MY_SECRET=hunter2", "PWD=" + rank.dir, "HOME=" + rank.dir,
		} {
			if !lines[rank.who+" "+want] {
				t.Errorf("%s: missing %q", rank.who, want)
			}
		}
	}
	for _, want := range []string{
		"setup0 SETUP_IPS=127.0.0.1,127.0.0.2", "setup1 SETUP_IPS=127.0.0.1,127.0.0.2",
		"setup0 SETUP_RANK=0 SETUP_GPUS=1 NUM_NODES=2", "setup1 SETUP_RANK=1 SETUP_GPUS=1 NUM_NODES=2",
	} {
		if !lines[want] {
			t.Errorf("missing setup line %q", want)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("logs:\n%s", logs)
	}
	// Secrets never leave the agent through the API, and are dropped from the job table once the job ends.
	jobs, err := c.head.Jobs(ctxT(t), JobsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jobs)
	if strings.Contains(string(b), "hunter2") {
		t.Error("the job list shows the secret")
	}
}

func TestSetupFailure(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "setupfail", []nodeOpts{{cpus: 2}, {cpus: 2}})
	marker := filepath.Join(t.TempDir(), "ran")
	id := c.submit(t, JobSpec{Setup: `if [ "$SKYPILOT_SETUP_NODE_RANK" = 1 ]; then echo broken; exit 5; fi; sleep 600`,
		Run: "touch " + marker})
	j := c.waitStatus(t, id, StatusFailedSetup)
	if j.ExitCode == nil || *j.ExitCode != 5 || j.FailedRank == nil || *j.FailedRank != 1 {
		t.Errorf("job = %+v", j)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("run ran after a failed setup")
	}
	logs := c.logs(t, id, false, 0)
	if !regexp.MustCompile(`\(setup pid=\d+, ip=127\.0\.0\.2\) broken\n`).MatchString(logs) ||
		!strings.Contains(logs, "ERROR: Job 1's setup failed on worker1") {
		t.Errorf("logs = %q", logs)
	}
	// The head's setup (sleep 600) was killed: the next job can run.
	id2 := c.submit(t, JobSpec{Run: "true", DemandPerNode: Demand{CPUs: 2}})
	c.waitStatus(t, id2, StatusSucceeded)
}

func TestFailingRankKillsTheOthers(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "gang", []nodeOpts{{cpus: 1}, {cpus: 1}})
	pidFile := filepath.Join(t.TempDir(), "sleep.pid")
	run := fmt.Sprintf(`if [ "$SKYPILOT_NODE_RANK" = 0 ]; then sleep 600 & echo $! > %[1]s.tmp; mv %[1]s.tmp %[1]s; wait; fi
while [ ! -f %[1]s ]; do sleep 0.02; done; exit 3`, pidFile)
	id := c.submit(t, JobSpec{NumNodes: 2, Run: run, DemandPerNode: Demand{CPUs: 1}})
	j := c.waitStatus(t, id, StatusFailed)
	if j.ExitCode == nil || *j.ExitCode != 3 || j.FailedRank == nil || *j.FailedRank != 1 {
		t.Errorf("job = %+v, want exit 3 from rank 1", j)
	}
	var pid int
	fmt.Sscan(waitFile(t, pidFile), &pid)
	if pid <= 0 {
		t.Fatalf("no pid in %s", pidFile)
	}
	waitGone(t, pid, "rank 0's sleep after rank 1 failed")
	if logs := c.logs(t, id, false, 0); !regexp.MustCompile(`ERROR: Job 1 failed with return code list: \[(137|143), 3\]`).MatchString(logs) {
		t.Errorf("logs = %q", logs)
	}
}

func TestCancelRunningAndPending(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "cancel", []nodeOpts{{cpus: 1}, {cpus: 1}})
	pidFile := filepath.Join(t.TempDir(), "sleep")
	marker := filepath.Join(t.TempDir(), "pending-ran")
	run := fmt.Sprintf(`sleep 600 & echo $! > %s.$SKYPILOT_NODE_RANK; wait`, pidFile)
	running := c.submit(t, JobSpec{NumNodes: 2, Run: run, DemandPerNode: Demand{CPUs: 1}})
	pending := c.submit(t, JobSpec{Run: "touch " + marker, DemandPerNode: Demand{CPUs: 1}})
	c.waitStatus(t, running, StatusRunning)
	var pids []int
	for r := range 2 {
		var pid int
		fmt.Sscan(waitFile(t, fmt.Sprintf("%s.%d", pidFile, r)), &pid)
		pids = append(pids, pid)
	}
	if j, _ := c.head.Job(ctxT(t), pending); j.Status != StatusPending {
		t.Fatalf("second job is %s, want PENDING behind the first", j.Status)
	}
	res, err := c.head.Cancel(ctxT(t), CancelRequest{IDs: []int64{pending}})
	if err != nil || len(res.Jobs) != 1 || !res.Jobs[0].Cancelled || res.Jobs[0].Status != StatusCancelled {
		t.Fatalf("cancel pending = %+v, %v", res, err)
	}
	res, err = c.head.Cancel(ctxT(t), CancelRequest{IDs: []int64{running}})
	if err != nil || len(res.Jobs) != 1 || !res.Jobs[0].Cancelled {
		t.Fatalf("cancel running = %+v, %v", res, err)
	}
	// The processes are gone on every node (killed before cancel returned; dying takes the kernel a moment).
	for _, pid := range pids {
		waitGone(t, pid, "a cancelled job's sleep")
	}
	if j, _ := c.head.Job(ctxT(t), running); j.Status != StatusCancelled {
		t.Errorf("running job is %s after cancel", j.Status)
	}
	// Cancelling a finished job changes nothing and says so; an unknown id is reported, not an error.
	res, err = c.head.Cancel(ctxT(t), CancelRequest{IDs: []int64{running, 99}})
	if err != nil || len(res.Jobs) != 2 || res.Jobs[0].Cancelled || !strings.Contains(res.Jobs[0].Message, "already CANCELLED") ||
		!strings.Contains(res.Jobs[1].Message, "not found") {
		t.Errorf("cancel again = %+v, %v", res, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the cancelled pending job ran")
	}
	// --all cancels every unfinished job.
	a := c.submit(t, JobSpec{Run: "sleep 600", DemandPerNode: Demand{CPUs: 1}})
	b := c.submit(t, JobSpec{Run: "sleep 600", DemandPerNode: Demand{CPUs: 1}, NumNodes: 2})
	c.waitStatus(t, a, StatusRunning)
	res, err = c.head.Cancel(ctxT(t), CancelRequest{All: true})
	if err != nil || len(res.Jobs) != 2 || !res.Jobs[0].Cancelled || !res.Jobs[1].Cancelled || res.Jobs[0].ID != a || res.Jobs[1].ID != b {
		t.Errorf("cancel all = %+v, %v", res, err)
	}
}

// TestStrictFIFO: a job that fits the free resources still waits behind an earlier one that does not.
func TestStrictFIFO(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "fifo", []nodeOpts{{cpus: 2}})
	gate := filepath.Join(t.TempDir(), "gate")
	wait := fmt.Sprintf("while [ ! -f %s.$SKYPILOT_INTERNAL_JOB_ID ]; do sleep 0.02; done", gate)
	small := c.submit(t, JobSpec{Run: wait, DemandPerNode: Demand{CPUs: 1}})
	big := c.submit(t, JobSpec{Run: wait, DemandPerNode: Demand{CPUs: 2}})
	later := c.submit(t, JobSpec{Run: wait, DemandPerNode: Demand{CPUs: 1}})
	c.waitStatus(t, small, StatusRunning)
	// Let the scheduler see all three (it runs on every submit), then check nobody overtook the big job.
	for _, id := range []int64{big, later} {
		if j, _ := c.head.Job(ctxT(t), id); j.Status != StatusPending {
			t.Fatalf("job %d is %s, want PENDING", id, j.Status)
		}
	}
	os.WriteFile(fmt.Sprintf("%s.%d", gate, small), []byte("go"), 0o600)
	c.waitStatus(t, small, StatusSucceeded)
	c.waitStatus(t, big, StatusRunning)
	if j, _ := c.head.Job(ctxT(t), later); j.Status != StatusPending {
		t.Fatalf("later job is %s while the big one runs, want PENDING", j.Status)
	}
	os.WriteFile(fmt.Sprintf("%s.%d", gate, big), []byte("go"), 0o600)
	os.WriteFile(fmt.Sprintf("%s.%d", gate, later), []byte("go"), 0o600)
	c.waitStatus(t, big, StatusSucceeded)
	j := c.waitStatus(t, later, StatusSucceeded)
	bj, _ := c.head.Job(ctxT(t), big)
	if j.StartedAt.Before(*bj.EndedAt) {
		t.Errorf("later job started at %v, before the big one ended at %v", j.StartedAt, bj.EndedAt)
	}
	// Skip-finished listing and the newest-first order.
	jobs, err := c.head.Jobs(ctxT(t), JobsQuery{})
	if err != nil || len(jobs) != 3 || jobs[0].ID != later {
		t.Errorf("jobs = %+v, %v", jobs, err)
	}
	unfinished, err := c.head.Jobs(ctxT(t), JobsQuery{SkipFinished: true})
	if err != nil || len(unfinished) != 0 {
		t.Errorf("unfinished = %+v, %v", unfinished, err)
	}
}

func TestFractionalGPUs(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "gpus", []nodeOpts{{env: []string{"STIX_FAKE_GPUS=H100:2"}}})
	h, err := c.head.Health(ctxT(t))
	if err != nil || h.Resources.Accelerators["H100"] != 2 || !h.Head || h.ClusterName != "gpus" {
		t.Fatalf("health = %+v, %v", h, err)
	}
	out := t.TempDir()
	gate := filepath.Join(out, "gate")
	run := fmt.Sprintf(`echo "$CUDA_VISIBLE_DEVICES $SKYPILOT_NUM_GPUS_PER_NODE" > %s/$SKYPILOT_INTERNAL_JOB_ID
while [ ! -f %s ]; do sleep 0.02; done`, out, gate)
	half := Demand{CPUs: 0.1, Accelerators: map[string]float64{"H100": 0.5}}
	var ids []int64
	for range 5 {
		ids = append(ids, c.submit(t, JobSpec{Run: run, DemandPerNode: half}))
	}
	var devices []string
	for _, id := range ids[:4] {
		c.waitStatus(t, id, StatusRunning)
		devices = append(devices, strings.TrimSpace(waitFile(t, fmt.Sprintf("%s/%d", out, id))))
	}
	slices.Sort(devices)
	if !slices.Equal(devices, []string{"0 1", "0 1", "1 1", "1 1"}) {
		t.Errorf("CUDA_VISIBLE_DEVICES and SKYPILOT_NUM_GPUS_PER_NODE of four half-GPU jobs = %q", devices)
	}
	if j, _ := c.head.Job(ctxT(t), ids[4]); j.Status != StatusPending {
		t.Errorf("fifth half-GPU job is %s, want PENDING", j.Status)
	}
	os.WriteFile(gate, nil, 0o600)
	c.waitStatus(t, ids[4], StatusSucceeded)
	// Demands the cluster can never meet fail at submit, saying why.
	for _, d := range []Demand{
		{Accelerators: map[string]float64{"H100": 4}},
		{Accelerators: map[string]float64{"T4": 1}},
		{CPUs: 10000},
	} {
		_, err := c.head.Submit(ctxT(t), JobSpec{Run: "true", DemandPerNode: d})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "can never provide") {
			t.Errorf("submit %v: err = %v, want a never-fits error", d, err)
		}
	}
	if _, err := c.head.Submit(ctxT(t), JobSpec{Run: "true", NumNodes: 2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("2-node job on a 1-node cluster: err = %v", err)
	}
	if _, err := c.head.Submit(ctxT(t), JobSpec{Run: "true", DemandPerNode: Demand{Accelerators: map[string]float64{"H100": 1.5}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("1.5 GPUs: err = %v", err)
	}
	// A job without GPUs on a GPU node sees none.
	id := c.submit(t, JobSpec{Run: fmt.Sprintf(`echo "[$CUDA_VISIBLE_DEVICES]" > %s/cpu`, out)})
	c.waitStatus(t, id, StatusSucceeded)
	if got := waitFile(t, out+"/cpu"); got != "[]\n" {
		t.Errorf("CPU job's CUDA_VISIBLE_DEVICES = %q", got)
	}
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	a := startAgent(t, "127.0.0.1", nil)
	bad := NewClient(a.addr, "wrong", nil)
	if _, err := bad.Health(ctxT(t)); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong secret: err = %v, want ErrUnauthorized", err)
	}
	resp, err := http.Get("http://" + a.addr + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no secret: HTTP %d, want 401", resp.StatusCode)
	}
	// A node that is not a head says how to make it one.
	if _, err := a.client.Jobs(ctxT(t), JobsQuery{}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "POST /v1/cluster") {
		t.Errorf("jobs on a worker: %v", err)
	}
}

func TestLogsTailAndFollow(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "logs", []nodeOpts{{cpus: 1}})
	gate := filepath.Join(t.TempDir(), "gate")
	id := c.submit(t, JobSpec{Name: "count", Run: fmt.Sprintf(`for i in $(seq 1 100); do echo line $i; done
while [ ! -f %s ]; do sleep 0.02; done; printf 'after'`, gate)})
	c.waitStatus(t, id, StatusRunning)
	poll(t, 10*time.Second, "100 lines", func() bool { return strings.Count(c.logs(t, id, false, 0), "\n") == 100 })
	got := c.logs(t, id, false, 3)
	if !regexp.MustCompile(`^\(count, pid=\d+\) line 98\n\(count, pid=\d+\) line 99\n\(count, pid=\d+\) line 100\n$`).MatchString(got) {
		t.Errorf("tail 3 = %q", got)
	}
	type result struct {
		out string
		err error
	}
	followed := make(chan result, 1)
	var w syncBuilder
	go func() {
		_, err := c.head.Logs(context.Background(), id, true, 1, &w)
		followed <- result{w.String(), err}
	}()
	poll(t, 10*time.Second, "the follower to get the tail", func() bool { return strings.Contains(w.String(), "line 100") })
	os.WriteFile(gate, nil, 0o600)
	r := <-followed // the stream ends by itself when the job has finished
	if r.err != nil || !regexp.MustCompile(`^\(count, pid=\d+\) line 100\n\(count, pid=\d+\) after\n$`).MatchString(r.out) {
		t.Errorf("follow = %q, %v", r.out, r.err)
	}
	if j, _ := c.head.Job(ctxT(t), id); j.Status != StatusSucceeded {
		t.Errorf("status after the follow ended = %s", j.Status)
	}
	// Following a pending job waits for it to start; a missing job is 404.
	if _, err := c.head.Logs(ctxT(t), 42, false, 0, &w); !errors.Is(err, ErrNotFound) {
		t.Errorf("logs of a missing job: %v", err)
	}
}

func TestKillAllStopsAgentAndJobs(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "killall", []nodeOpts{{cpus: 1}})
	pidFile := filepath.Join(t.TempDir(), "pid")
	id := c.submit(t, JobSpec{Run: fmt.Sprintf("sleep 600 & echo $! > %s; wait", pidFile)})
	c.waitStatus(t, id, StatusRunning)
	var pid int
	fmt.Sscan(waitFile(t, pidFile), &pid)
	a := c.agents[0]
	agentPid := a.cmd.Process.Pid
	if err := KillAll(a.dir); err != nil {
		t.Fatal(err)
	}
	// KillAll waits until they are gone.
	if processAlive(agentPid) || processAlive(pid) {
		t.Errorf("after KillAll: agent alive %v, job alive %v", processAlive(agentPid), processAlive(pid))
	}
	// KillAll works without the agent too, and twice.
	if err := KillAll(a.dir); err != nil {
		t.Fatal(err)
	}
	// Started again (`stix start`), the agent reports the interrupted job as SkyPilot does.
	_ = a.cmd.Wait()
	a.start()
	c.head = a.client
	c.waitStatus(t, id, StatusFailedDriver)
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `stix-agent killall --dir` is KillAll for nodes reached over a transport.
func TestKillallCommand(t *testing.T) {
	t.Parallel()
	a := startAgent(t, "127.0.0.1", nil)
	agentPid := a.cmd.Process.Pid
	out, err := exec.Command(agentBin, "killall", "--dir", a.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("killall: %v: %s", err, out)
	}
	_ = a.cmd.Wait()
	if processAlive(agentPid) {
		t.Error("agent alive after killall")
	}
	if out, err := exec.Command(agentBin, "killall").CombinedOutput(); err == nil || !strings.Contains(string(out), "--dir is required") {
		t.Errorf("killall without --dir: %v: %s", err, out)
	}
}

// On remote nodes the agent's directory is not the user's home: --home makes jobs see the real $HOME and start
// in ~/sky_workdir there.
func TestHomeFlag(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, "sky_workdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, "home", []nodeOpts{{cpus: 1}}, "--home", home)
	id := c.submit(t, JobSpec{Run: `echo "home=$HOME pwd=$PWD"`})
	c.waitStatus(t, id, StatusSucceeded)
	want := "home=" + home + " pwd=" + filepath.Join(home, "sky_workdir")
	if out := c.logs(t, id, false, 0); !strings.Contains(out, want) {
		t.Errorf("job output %q lacks %q", out, want)
	}
}

// An agent whose pid file names another process (hosts sharing one home directory overwrote it) is still found
// and stopped: KillAll's success means no agent serves the directory.
func TestKillAllFindsAgentWithoutItsPidFile(t *testing.T) {
	t.Parallel()
	a := startAgent(t, "127.0.0.1", nil)
	agentPid := a.cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(a.dir, "agent.pid"), []byte("999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := KillAll(a.dir); err != nil {
		t.Fatal(err)
	}
	if processAlive(agentPid) {
		_ = a.cmd.Process.Kill() // so that the cleanup's wait ends
		t.Fatalf("agent %d serves %s after KillAll", agentPid, a.dir)
	}
	_ = a.cmd.Wait()
}

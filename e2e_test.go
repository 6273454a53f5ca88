package stix_test

// End-to-end tests: testscript scripts under testdata/script drive the real stix and stix-agent binaries
// against the local provider, each script with its own STIX_HOME. Custom commands wait for states by polling
// with a deadline (never by sleeping) and poke at nodes the way a failure would.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/atomicfile"
	stixcli "github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/kubetest"
	"github.com/stix-run/stix/internal/testutil/sshhost"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stix-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/stix", "./cmd/stix-agent")
	// Static binaries: the agent is copied into Docker node containers, which have no Go toolchain's libc.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build stix binaries:", err)
		os.Exit(1)
	}
	binDir = dir
	// A Kubernetes control plane for testdata/script-k8s, when its binaries are built (e2e_k8s_test.go).
	code := kubetest.Main(m.Run, &k8sPlane)
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestScripts(t *testing.T) {
	t.Parallel()
	runScripts(t, "testdata/script", nil, false)
}

// runScripts runs the scripts of dir (files, when not nil, names the ones to run). With server set, each script
// gets its own API server, a real `stix api start --foreground` process over the script's STIX_HOME, and
// STIX_API_SERVER_ENDPOINT points every stix command at it.
func runScripts(t *testing.T, dir string, files []string, server bool) {
	examples, err := filepath.Abs("examples")
	if err != nil {
		t.Fatal(err)
	}
	// The catalog snapshot, read in place: no script ever downloads a catalog.
	catalogs := testutil.SharedDir(t, "catalogs/v7")
	// Three real sshd hosts for the SSH node pool scripts ($SSH_POOLS is their ssh_node_pools.yaml). They are
	// the embedded run's alone (sshhoststop picks them by index): the server-mode scripts use no pools.
	pools, storagePools, sshBridge := "", "", ""
	if !server && dir != k8sScripts { // the Kubernetes scripts use no pools (and sshhoststop indexes TestScripts' hosts)
		pools = sshPoolYAML(t, 3)
		// storage_ssh.txtar's own two hosts: sharing ssh_pool.txtar's, which runs at the same time, its
		// clusters' stop and down on a host would end the other script's mounts there.
		storagePools = sshPoolYAML(t, 2)
		sshBridge = sshhost.BridgeIP(t)
	}
	dockerBridge := dockerBridgeIP()
	if files != nil {
		dir = ""
	}
	testscript.Run(t, testscript.Params{
		Dir:   dir,
		Files: files,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, ".stix")
			env.Setenv("STIX_HOME", home)
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("STIX_AGENT_BIN", filepath.Join(binDir, "stix-agent"))
			env.Setenv("EXAMPLES", examples)
			env.Setenv("STIX_CATALOG_DIR", catalogs)
			env.Setenv("STIX_CATALOG_URL", "http://127.0.0.1:1/catalogs") // fails fast should anything try
			env.Setenv("NO_COLOR", "1")
			// The AWS SDK's credential chain (S3 credentials beyond access keys) never asks the instance
			// metadata service here: nothing leaves the machine.
			env.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			env.Setenv("SSH_POOLS", pools)
			env.Setenv("STORAGE_SSH_POOLS", storagePools)
			// Where a server the nodes reach listens (`minio $DOCKER_BRIDGE_IP`, `minio $SSH_BRIDGE_IP`).
			env.Setenv("SSH_BRIDGE_IP", sshBridge)
			env.Setenv("DOCKER_BRIDGE_IP", dockerBridge)
			if dir == k8sScripts && k8sPlane != nil {
				k8sScriptEnv(env)
			}
			// Every cluster a script made goes away with it, whatever the script did.
			env.Defer(func() { downAll(env, home) })
			// A server a script started with `stix api start` (a daemon) goes away with it too.
			env.Defer(func() { stopLocalServer(env, home) })
			if server {
				return startScriptServer(env)
			}
			return nil
		},
		Condition: scriptCondition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitjob":         waitJob,
			"waitcluster":     waitCluster,
			"waitmanaged":     waitManaged,
			"waitmanagedlog":  waitManagedLog,
			"killagent":       killAgent,
			"stopagent":       stopAgent,
			"killjob":         killJob,
			"exitcode":        exitCode,
			"waitfile":        waitFile,
			"clock":           setClock,
			"alive":           alive,
			"dockerkill":      dockerKill,
			"dockerrm":        dockerRemove,
			"dockerkillagent": dockerKillAgent,
			"dockergone":      dockerGone,
			"dockerstopped":   dockerStopped,
			"dockerproc":      dockerProc,
			"dockerpublished": dockerPublished,
			"holdport":        holdPort,
			"sshhoststop":     sshHostStop,
			"apiserver":       apiServerCmd,
			"setenvfile":      setEnvFile,
			"policyserver":    policyServer,
			"minio":           minioCmd,
			"mkbucket":        mkbucketCmd,
			"waitbucketempty": waitbucketemptyCmd,
			"waitbucketgone":  waitbucketgoneCmd,
			"waitobject":      waitobjectCmd,
			"s3cat":           s3catCmd,
			"k8sgone":         k8sGone,
			"waitservice":     waitService,
			"serveget":        serveGet,
		},
	})
}

// deadline bounds every wait: generous, because CI machines are slow; a passing test never waits it out.
const deadline = 60 * time.Second

// stix runs the stix binary with the script's environment and returns its stdout.
func stix(ts *testscript.TestScript, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "stix"), args...)
	cmd.Env = scriptEnv(ts)
	cmd.Dir = ts.Getenv("WORK")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("stix %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "STIX_HOME", "STIX_AGENT_BIN", "STIX_IDLE_UNIT", "STIX_TEST_CLOCK", "STIX_FAKE_GPUS", "STIX_CATALOG_DIR", "STIX_CATALOG_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3", "NO_COLOR", "TMPDIR", "STIX_API_SERVER_ENDPOINT", "KUBECONFIG", "STIX_TEST_K8S_POD_HOMES"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

// poll calls check until it reports done or the deadline passes; the last error explains a timeout.
func poll(ts *testscript.TestScript, what string, check func() (bool, error)) {
	if err := pollFunc(what, check); err != nil {
		ts.Fatalf("%v", err)
	}
}

// pollFunc is poll for callers without a script: it returns the timeout as an error.
func pollFunc(what string, check func() (bool, error)) error {
	end := time.Now().Add(deadline)
	backoff := 10 * time.Millisecond
	var last error
	for time.Now().Before(end) {
		done, err := check()
		if done {
			return nil
		}
		last = err
		time.Sleep(backoff)
		backoff = min(backoff*2, 250*time.Millisecond)
	}
	return fmt.Errorf("timed out waiting for %s (last: %v)", what, last)
}

// waitjob CLUSTER ID STATUS... waits until the job is in one of the statuses.
func waitJob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: waitjob CLUSTER ID STATUS...")
	}
	cluster, id, want := args[0], args[1], args[2:]
	poll(ts, fmt.Sprintf("job %s on %s to be %v", id, cluster, want), func() (bool, error) {
		out, err := stix(ts, "queue", "-o", "json", cluster)
		if err != nil {
			return false, err
		}
		var queues map[string][]struct {
			ID     int    `json:"job_id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &queues); err != nil {
			return false, err
		}
		for _, j := range queues[cluster] {
			if strconv.Itoa(j.ID) == id {
				return slices.Contains(want, j.Status), fmt.Errorf("job %s is %s", id, j.Status)
			}
		}
		return false, fmt.Errorf("job %s not in the queue", id)
	})
}

// waitmanaged ID STATUS... waits until managed job ID is in one of the statuses (a pipeline's: its first task
// that has not SUCCEEDED, as `stix jobs queue` sums it up).
func waitManaged(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: waitmanaged ID STATUS...")
	}
	id, want := args[0], args[1:]
	poll(ts, fmt.Sprintf("managed job %s to be %v", id, want), func() (bool, error) {
		out, err := stix(ts, "jobs", "queue", "-a", "-o", "json")
		if err != nil {
			return false, err
		}
		var rows []api.ManagedJob
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			return false, err
		}
		rows = slices.DeleteFunc(rows, func(r api.ManagedJob) bool { return strconv.FormatInt(r.ID, 10) != id })
		if len(rows) == 0 {
			return false, fmt.Errorf("managed job %s not in the queue", id)
		}
		status, _ := stixcli.ManagedJobState(rows)
		return slices.Contains(want, string(status)), fmt.Errorf("managed job %s is %s", id, status)
	})
}

// waitmanagedlog ID REGEXP waits until the output the controller kept of managed job ID has a line matching
// REGEXP (what a node that dies afterwards had written is kept only once it reached the controller).
func waitManagedLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitmanagedlog ID REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	poll(ts, fmt.Sprintf("managed job %s's output to match %s", args[0], args[1]), func() (bool, error) {
		out, err := stix(ts, "jobs", "logs", "--no-follow", args[0])
		return err == nil && re.MatchString(out), err
	})
}

// waitcluster CLUSTER STATUS waits until `status -r` shows the cluster in STATUS; STATUS "gone" waits until it
// is not listed at all.
func waitCluster(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitcluster CLUSTER STATUS|gone")
	}
	name, want := args[0], args[1]
	poll(ts, fmt.Sprintf("cluster %s to be %s", name, want), func() (bool, error) {
		out, err := stix(ts, "status", "-r", "-o", "json")
		if err != nil {
			return false, err
		}
		var cs []struct{ Name, Status string }
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			return false, err
		}
		for _, c := range cs {
			if c.Name == name {
				return c.Status == want, fmt.Errorf("cluster %s is %s", name, c.Status)
			}
		}
		return want == "gone", fmt.Errorf("cluster %s is gone", name)
	})
}

// killagent CLUSTER RANK kills a local node's agent with SIGKILL and waits until it is gone.
func killAgent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: killagent CLUSTER RANK")
	}
	pidFile := filepath.Join(ts.Getenv("STIX_HOME"), "local", args[0], "agent-"+args[1], "agent.pid")
	killPIDFile(ts, pidFile, false)
}

// stopagent CLUSTER RANK [cont] stops a local node's agent with SIGSTOP (it hangs: its kernel still accepts
// connections, nothing answers them), or lets it run again with SIGCONT. A stopped agent is let run again when
// the script ends, so that its clusters can be taken down.
func stopAgent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 || len(args) == 3 && args[2] != "cont" {
		ts.Fatalf("usage: stopagent CLUSTER RANK [cont]")
	}
	b, err := os.ReadFile(filepath.Join(ts.Getenv("STIX_HOME"), "local", args[0], "agent-"+args[1], "agent.pid"))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ts.Check(err)
	if len(args) == 3 {
		ts.Check(syscall.Kill(pid, syscall.SIGCONT))
		return
	}
	if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !bytes.Contains(cmd, []byte("serve")) {
		ts.Fatalf("pid %d of node %s is not an agent (%q, %v)", pid, args[1], cmd, err)
	}
	ts.Check(syscall.Kill(pid, syscall.SIGSTOP))
	ts.Defer(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	// kill returns once the signal is queued; the agent stops when its threads next run. Wait until it has.
	poll(ts, fmt.Sprintf("agent %d to stop", pid), func() (bool, error) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false, err
		}
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
		return len(f) > 0 && f[0] == "T", fmt.Errorf("state %v", f[:1])
	})
}

// killjob PIDFILE kills, with SIGKILL, the process group of the pid a job wrote to PIDFILE.
func killJob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: killjob PIDFILE")
	}
	killPIDFile(ts, ts.MkAbs(args[0]), true)
}

func killPIDFile(ts *testscript.TestScript, path string, group bool) {
	b, err := os.ReadFile(path)
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ts.Check(err)
	// A process already gone (killing its node can take it) is as killed as it gets.
	target := pid
	if group {
		g, ok := pgid(ts, pid)
		if !ok {
			return
		}
		target = -g
	}
	if err := syscall.Kill(target, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		ts.Fatalf("kill %d: %v", target, err)
	}
	poll(ts, fmt.Sprintf("pid %d to exit", pid), func() (bool, error) {
		return !running(pid), fmt.Errorf("pid %d still running", pid)
	})
}

// pgid reads a process's group id from /proc (the fifth field of stat); ok is false when the process is gone.
func pgid(ts *testscript.TestScript, pid int) (g int, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return 0, false
	}
	ts.Check(err)
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	g, err = strconv.Atoi(fields[2])
	ts.Check(err)
	return g, true
}

// running reports whether a process exists and is not a zombie (a killed process that is not our child lingers
// as one until its parent reaps it).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// alive PIDFILE checks that the process whose pid is in PIDFILE runs; `! alive PIDFILE` waits until it is gone.
func alive(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: alive PIDFILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ts.Check(err)
	if !neg {
		if !running(pid) {
			ts.Fatalf("pid %d is not running", pid)
		}
		return
	}
	poll(ts, fmt.Sprintf("pid %d to exit", pid), func() (bool, error) {
		return !running(pid), fmt.Errorf("pid %d still running", pid)
	})
}

// exitcode N CMD ARGS... runs a command and checks its exit status is exactly N.
func exitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N CMD ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("run %s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// clock DURATION sets the autostop clock of the local agents started with STIX_TEST_CLOCK: each agent's time is
// its start plus DURATION (docs/agent.md). The file is replaced atomically, so an agent never reads half of it.
func setClock(ts *testscript.TestScript, neg bool, args []string) {
	path := ts.Getenv("STIX_TEST_CLOCK")
	if neg || len(args) != 1 || path == "" {
		ts.Fatalf("usage: clock DURATION (with STIX_TEST_CLOCK set)")
	}
	if _, err := time.ParseDuration(args[0]); err != nil {
		ts.Fatalf("clock: %v", err)
	}
	ts.Check(atomicfile.Write(path, []byte(args[0]+"\n"), 0o644))
}

// waitfile PATH waits until a file exists (a job reached a point of its script).
func waitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	path := ts.MkAbs(args[0])
	poll(ts, path+" to exist", func() (bool, error) {
		_, err := os.Stat(path)
		return err == nil, err
	})
}

// stopLocalServer stops the API server daemon a script started, if it left one running.
func stopLocalServer(env *testscript.Env, home string) {
	cmd := exec.Command(filepath.Join(binDir, "stix"), "api", "stop")
	cmd.Env = append(os.Environ(), "STIX_HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		env.T().Log("stop the API server:", err, string(out))
	}
}

// downAll tears down whatever clusters a script left, so no agent outlives the test.
func downAll(env *testscript.Env, home string) {
	cmd := exec.Command(filepath.Join(binDir, "stix"), "down", "-a", "-y", "--purge")
	cmd.Env = append(os.Environ(), "STIX_HOME="+home, "STIX_AGENT_BIN="+filepath.Join(binDir, "stix-agent"),
		"KUBECONFIG="+env.Getenv("KUBECONFIG"), "STIX_TEST_K8S_POD_HOMES="+env.Getenv("STIX_TEST_K8S_POD_HOMES"))
	if out, err := cmd.CombinedOutput(); err != nil {
		env.T().Log("clean up clusters:", err, string(out))
	}
}

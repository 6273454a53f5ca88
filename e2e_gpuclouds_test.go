package stix_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/testutil/fakelambda"
	"github.com/stix-run/stix/internal/testutil/fakerunpod"
)

// gpuCloudEnv is a stix home reaching a fake Lambda Cloud and a fake RunPod through stix's own HTTP clients
// (STIX_LAMBDA_ENDPOINT, STIX_RUNPOD_ENDPOINT), with a catalog of Lambda's cpu_4x_general in us-east-1 and,
// dearer, us-west-1, and RunPod's cpu3c-4-8 CPU pods, dearer still, in two US data centers (with a spot
// price, for the interruptible pods' tests).
type gpuCloudEnv struct {
	*awsEnv // the stix/must helpers; no EC2 here
	lambda  *fakelambda.Server
	runpod  *fakerunpod.Server
}

var lambdaRegions = []string{"us-east-1", "us-west-1"}

var runpodDCs = []string{"US-GA-1", "US-TX-3"}

func newGPUCloudEnv(t testing.TB) *gpuCloudEnv {
	t.Helper()
	e := &gpuCloudEnv{awsEnv: &awsEnv{t: t, work: t.TempDir()},
		lambda: fakelambda.New(t, fakelambda.Type{Name: "cpu_4x_general", VCPUs: 4, MemoryGiB: 16, PriceCents: 20, Regions: lambdaRegions}),
		runpod: fakerunpod.New(t)}
	cat := filepath.Join(e.work, "catalog")
	var lambdaVMs, runpodVMs strings.Builder
	lambdaVMs.WriteString("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice\n")
	for i, r := range lambdaRegions {
		fmt.Fprintf(&lambdaVMs, "cpu_4x_general,,,4.0,16.0,%.2f,%s,,\n", 0.20+0.02*float64(i), r)
	}
	runpodVMs.WriteString("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Region,SpotPrice,Price,AvailabilityZone\n")
	for _, dc := range runpodDCs {
		fmt.Fprintf(&runpodVMs, "cpu3c-4-8,,,4.0,8.0,,US,0.15,0.30,%s\n", dc)
	}
	write := func(name, data string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(cat, "lambda", "vms.csv"), lambdaVMs.String())
	write(filepath.Join(cat, "runpod", "vms.csv"), runpodVMs.String())
	write(filepath.Join(e.work, "task.yaml"), "workdir: proj\nresources:\n  cpus: 4\n"+
		"run: echo \"rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(echo \"$SKYPILOT_NODE_IPS\" | tr '\\n' ,) data=$(cat data.txt)\"\n")
	write(filepath.Join(e.work, "proj", "data.txt"), "42\n")
	home := filepath.Join(e.work, "home")
	user := currentUserName(t)
	e.env = []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home,
		"STIX_HOME=" + filepath.Join(e.work, ".stix"), "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"),
		"STIX_CATALOG_DIR=" + cat, "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs", "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"STIX_LAMBDA_ENDPOINT=" + e.lambda.URL, "LAMBDA_API_KEY=" + fakelambda.APIKey, "STIX_LAMBDA_SSH_USER=" + user,
		"STIX_RUNPOD_ENDPOINT=" + e.runpod.URL, "RUNPOD_API_KEY=" + fakerunpod.APIKey, "STIX_RUNPOD_SSH_USER=" + user,
	}
	t.Cleanup(func() { _, _ = e.stix("down", "-y", "--all") })
	return e
}

// TestLambdaLaunch: `stix launch --infra lambda` registers stix's SSH key, launches two instances of the fake
// Lambda in one call, connects over SSH, deploys the agents and runs a 2-node task; status -r asks Lambda; stop
// is refused (Lambda cannot stop instances); down leaves no instance.
func TestLambdaLaunch(t *testing.T) {
	t.Parallel()
	e := newGPUCloudEnv(t)
	out := e.must("launch", "-y", "-c", "l1", "--infra", "lambda", "--num-nodes", "2", "task.yaml")
	for _, want := range []string{"rank 0 of 2 ips=10.231.", "rank 1 of 2 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	insts := e.lambda.Instances()
	if len(insts) != 2 || insts[0].Region != "us-east-1" || insts[0].Type != "cpu_4x_general" || insts[0].KeyName != "stix-"+vm.UserHash() {
		t.Fatalf("instances: %+v", insts)
	}
	if !strings.HasPrefix(insts[0].Name, "l1-") {
		t.Errorf("instance name %q does not name the cluster", insts[0].Name)
	}
	if out := e.must("status", "-r"); !strings.Contains(out, "l1") || !strings.Contains(out, "UP") {
		t.Errorf("status -r:\n%s", out)
	}
	if out := e.must("exec", "l1", "echo exec on $SKYPILOT_NODE_RANK"); !strings.Contains(out, "exec on 0") {
		t.Errorf("exec:\n%s", out)
	}
	out, err := e.stix("stop", "-y", "l1")
	if err == nil || !strings.Contains(out, "Lambda does not support stopping") || !strings.Contains(out, "stix down l1") {
		t.Errorf("stop of a Lambda cluster: err %v, want a refusal naming `stix down`:\n%s", err, out)
	}
	e.must("down", "-y", "l1")
	if n, _ := e.lambda.Live(); n != 0 {
		t.Errorf("after down: %d instances left", n)
	}
	if out := e.must("cost-report"); !strings.Contains(out, "l1") || !strings.Contains(out, "$ 0.40") { // 2 x $0.20/h
		t.Errorf("cost-report lacks the Lambda cluster:\n%s", out)
	}
}

// TestRunPodLaunch: `stix launch --infra runpod` creates a pod in the cheapest data center, with the task's port
// and stix's public key, reaches it over SSH at its public IP and mapped port 22, and runs the task; status -r
// asks RunPod; down deletes the pod. A multi-node task is refused before anything is made, as SkyPilot refuses it
// (RunPod clusters are one pod).
func TestRunPodLaunch(t *testing.T) {
	t.Parallel()
	e := newGPUCloudEnv(t)
	if _, err := e.stix("launch", "-y", "-c", "r2", "--infra", "runpod", "--num-nodes", "2", "task.yaml"); err == nil || len(e.runpod.Pods()) != 0 {
		t.Fatalf("a 2-node launch on RunPod: %v, pods %+v; want it refused with nothing made", err, e.runpod.Pods())
	}
	out := e.must("launch", "-y", "-c", "r1", "--infra", "runpod", "--ports", "8080", "task.yaml")
	for _, want := range []string{"rank 0 of 1 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	pods := e.runpod.Pods()
	if len(pods) != 1 || pods[0].ComputeType != "CPU" || pods[0].VCPUCount != 4 {
		t.Fatalf("pods: %+v", pods)
	}
	if got := strings.Join(pods[0].Ports, ","); got != "22/tcp,8080/tcp" {
		t.Errorf("head pod ports %s, want 22/tcp,8080/tcp", got)
	}
	if !strings.HasPrefix(pods[0].Env["PUBLIC_KEY"], "ssh-ed25519 ") || pods[0].Interruptible {
		t.Errorf("head pod: env %v, interruptible %v", pods[0].Env, pods[0].Interruptible)
	}
	if out := e.must("status", "--endpoints", "r1"); !strings.HasPrefix(out, "8080: ") || strings.HasSuffix(strings.TrimSpace(out), ":8080") {
		t.Errorf("status --endpoints: %q, want port 8080 at the port RunPod maps it to", out)
	}
	if out := e.must("check", "-v", "runpod", "lambda"); strings.Count(out, ": enabled") != 2 {
		t.Errorf("check -v runpod lambda:\n%s", out)
	}
	if out := e.must("status", "-r"); !strings.Contains(out, "r1") || !strings.Contains(out, "UP") {
		t.Errorf("status -r:\n%s", out)
	}
	if out := e.must("exec", "r1", "echo exec on $SKYPILOT_NODE_RANK"); !strings.Contains(out, "exec on 0") {
		t.Errorf("exec:\n%s", out)
	}
	e.must("down", "-y", "r1")
	if n := e.runpod.Live(); n != 0 {
		t.Errorf("after down: %d pods left", n)
	}
}

// TestRunPodSpotPreempted: a spot cluster is an interruptible pod; one RunPod takes back mid-job is seen by
// `status -r` as gone, the cluster dropped as SkyPilot drops a cluster with no node left, and the exited pod
// deleted.
func TestRunPodSpotPreempted(t *testing.T) {
	t.Parallel()
	e := newGPUCloudEnv(t)
	e.must("launch", "-y", "-d", "-c", "s1", "--infra", "runpod", "--use-spot", "sleep 600")
	pods := e.runpod.Pods()
	if len(pods) != 1 || !pods[0].Interruptible {
		t.Fatalf("pods: %+v", pods)
	}
	e.runpod.Preempt(pods[0].ID)
	out := e.must("status", "-r")
	if strings.Contains(out, "s1") {
		t.Errorf("status -r still lists the preempted cluster:\n%s", out)
	}
	if n := e.runpod.Live(); n != 0 {
		t.Errorf("after status -r dropped the preempted cluster: %d pods left", n)
	}
}

// TestGPUCloudFailover: Lambda's insufficient-capacity error in the cheapest region, and no capacity listed in
// the next, send the launch to RunPod, whose first data center has no machine left: the pod lands in the second.
// When RunPod has none anywhere either, the launch fails with the table of what was tried, leaving nothing.
func TestGPUCloudFailover(t *testing.T) {
	t.Parallel()
	e := newGPUCloudEnv(t)
	e.lambda.Fail("launch", "us-east-1", "instance-operations/launch/insufficient-capacity", "Not enough capacity to fulfill launch request.")
	e.lambda.SetCapacity("cpu_4x_general", "us-east-1") // us-west-1 lists no capacity: refused before launching
	e.runpod.Fail("create", "US-GA-1", http.StatusInternalServerError, fakerunpod.NoCapacity)
	out := e.must("launch", "-y", "-c", "f1", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") {
		t.Errorf("launch output:\n%s", out)
	}
	if got := strings.Join(e.lambda.Calls(), ";"); !strings.Contains(got, "launch us-east-1") || strings.Contains(got, "launch us-west-1") {
		t.Errorf("Lambda calls %s: want a launch in us-east-1 only (us-west-1 has no capacity listed)", got)
	}
	var creates []string
	for _, c := range e.runpod.Calls() {
		if dc, ok := strings.CutPrefix(c, "create "); ok {
			creates = append(creates, dc)
		}
	}
	if strings.Join(creates, ",") != "US-GA-1,US-TX-3" {
		t.Errorf("RunPod creates in %v, want US-GA-1 then US-TX-3\n%s", creates, out)
	}
	if n, _ := e.lambda.Live(); n != 0 || e.runpod.Live() != 1 {
		t.Errorf("left: %d Lambda instances, %d pods (want 0 and 1)", n, e.runpod.Live())
	}
	e.must("down", "-y", "f1")

	e.runpod.Fail("create", "US", http.StatusInternalServerError, fakerunpod.NoCapacity)
	out, err := e.stix("launch", "-y", "-c", "f2", "task.yaml")
	if err == nil {
		t.Fatalf("launch with no capacity anywhere succeeded:\n%s", out)
	}
	for _, want := range []string{"INFRA", "REASON", "us-east-1", "us-west-1", "US-GA-1", "US-TX-3", "insufficient-capacity", "no longer any instances"} {
		if !strings.Contains(out, want) {
			t.Errorf("failure table lacks %q:\n%s", want, out)
		}
	}
	if n, _ := e.lambda.Live(); n != 0 || e.runpod.Live() != 0 {
		t.Errorf("left behind: %d Lambda instances, %d pods", n, e.runpod.Live())
	}
}

// TestGPUCloudErrors: a Lambda quota rules out Lambda at once; keys the APIs reject rule out each cloud; a region
// the catalog lacks, an SSH key name Lambda has with another key, and ports out of range are refused with a
// clear message. Nothing is left behind by any of them.
func TestGPUCloudErrors(t *testing.T) {
	t.Parallel()
	e := newGPUCloudEnv(t)
	left := func(what string) {
		t.Helper()
		if n, _ := e.lambda.Live(); n != 0 || e.runpod.Live() != 0 {
			t.Errorf("%s left %d Lambda instances, %d pods", what, n, e.runpod.Live())
		}
	}
	fail := func(what string, wants []string, args ...string) {
		t.Helper()
		e.refused(t, what, wants, left, args...)
	}

	e.lambda.Fail("launch", "", "global/quota-exceeded", "Quota exceeded: you may launch at most 0 instances.")
	out := e.must("launch", "-y", "-c", "q1", "task.yaml")
	var launches int
	for _, c := range e.lambda.Calls() {
		if strings.HasPrefix(c, "launch ") {
			launches++
		}
	}
	if launches != 1 || len(e.runpod.Pods()) != 1 {
		t.Errorf("a Lambda quota error: %d Lambda launches (want 1: the quota is the account's), %d pods (want 1)\n%s", launches, len(e.runpod.Pods()), out)
	}
	e.must("down", "-y", "q1")

	fail("unknown region", []string{"mars-1"}, "launch", "-y", "-c", "b1", "--infra", "lambda/mars-1", "task.yaml")
	fail("ports out of range", []string{"70000"}, "launch", "-y", "-c", "b2", "--infra", "runpod", "--ports", "70000", "task.yaml")

	e.lambda.AddSSHKey("stix-"+vm.UserHash(), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKxYNotStixsKeyAtAllXXXXXXXXXXXXXXXXXXXXXXXX someone@else")
	fail("key-name clash", []string{"SSH key named stix-" + vm.UserHash(), "not stix's key", "delete that key"},
		"launch", "-y", "-c", "b3", "--infra", "lambda", "task.yaml")
	if _, keys := e.lambda.Live(); keys != 1 {
		t.Errorf("the clash left %d SSH keys, want the user's 1", keys)
	}

	e.lambda.SetAPIKeys("secret_revoked")
	fail("rejected Lambda key", []string{"INFRA", "REASON", "global/invalid-api-key"}, "launch", "-y", "-c", "b4", "--infra", "lambda", "task.yaml")
	e.runpod.SetAPIKeys("rpa_REVOKED")
	fail("rejected RunPod key", []string{"INFRA", "REASON", "HTTP 401"}, "launch", "-y", "-c", "b5", "--infra", "runpod", "task.yaml")

}

// BenchmarkGPUCloudLaunch: the time stix itself spends from `launch` to the job's end on the fake Lambda and the
// fake RunPod, 1 and 4 nodes: the command's wall time less the time the fake spent answering (starting its sshd
// hosts included). The baseline, in the same run: `--infra local` launching the same task (with --cpus 1, which
// this machine has), and BenchmarkAWSLaunch beside it.
func BenchmarkGPUCloudLaunch(b *testing.B) {
	for _, infra := range []string{"local", "lambda", "runpod"} {
		for _, nodes := range []int{1, 4} {
			if infra == "runpod" && nodes > 1 {
				continue // RunPod clusters are one pod, as on SkyPilot
			}
			b.Run(fmt.Sprintf("%s/nodes=%d", infra, nodes), func(b *testing.B) {
				var stixTime time.Duration
				for i := range b.N {
					e := newGPUCloudEnv(b)
					busy := func() time.Duration { return e.lambda.Busy() + e.runpod.Busy() }
					before := busy()
					start := time.Now()
					args := []string{"launch", "-y", "-c", fmt.Sprintf("b%d", i), "--infra", infra, "--num-nodes", fmt.Sprint(nodes), "task.yaml"}
					if infra == "local" {
						args = append(args, "--cpus", "1")
					}
					e.must(args...)
					stixTime += time.Since(start) - (busy() - before)
				}
				b.ReportMetric(float64(stixTime.Milliseconds())/float64(b.N), "stix-ms/op")
			})
		}
	}
}

package stix_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/testutil/fakeec2"
)

// awsEnv is a stix home reaching a fake EC2 through the real SDK (AWS_ENDPOINT_URL_EC2), with a catalog of
// m6i.2xlarge in us-east-1's three zones and, dearer, us-west-2's, the zones named by ID as SkyPilot's catalog
// names them.
type awsEnv struct {
	t    testing.TB
	ec2  *fakeec2.Server
	work string
	env  []string
}

func newAWSEnv(t testing.TB) *awsEnv {
	t.Helper()
	e := &awsEnv{t: t, ec2: fakeec2.New(t, "us-east-1", "us-west-2"), work: t.TempDir()}
	cat := filepath.Join(e.work, "catalog")
	var vms, images strings.Builder
	vms.WriteString("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n")
	images.WriteString("Tag,Region,OS,OSVersion,ImageId,CreationDate\n")
	for i, r := range e.ec2.Regions {
		for _, z := range fakeec2.ZoneIDs(r) { // zone IDs, as in SkyPilot's catalog
			fmt.Fprintf(&vms, "m6i.2xlarge,,,8.0,32.0,,%.3f,%.3f,%s,%s\n", 0.384+0.04*float64(i), 0.12+0.04*float64(i), r, z)
		}
		for _, tag := range []string{"skypilot:custom-cpu-ubuntu", "skypilot:custom-gpu-ubuntu"} {
			fmt.Fprintf(&images, "%s,%s,ubuntu,22.04,%s,20260101\n", tag, r, fakeec2.ImageID(r))
		}
	}
	write := func(name, data string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(cat, "aws", "vms.csv"), vms.String())
	write(filepath.Join(cat, "aws", "images.csv"), images.String())
	write(filepath.Join(e.work, "task.yaml"), "workdir: proj\n"+
		"run: echo \"rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(echo \"$SKYPILOT_NODE_IPS\" | tr '\\n' ,) data=$(cat data.txt)\"\n")
	write(filepath.Join(e.work, "proj", "data.txt"), "42\n")
	home := filepath.Join(e.work, "home")
	e.env = []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home,
		"STIX_HOME=" + filepath.Join(e.work, ".stix"), "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"),
		"STIX_CATALOG_DIR=" + cat, "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs", "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"AWS_ENDPOINT_URL_EC2=" + e.ec2.URL, "AWS_ACCESS_KEY_ID=" + fakeec2.AccessKey, "AWS_SECRET_ACCESS_KEY=fake-secret",
		"AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true", "STIX_AWS_SSH_USER=" + currentUserName(t),
	}
	t.Cleanup(func() { _, _ = e.stix("down", "-y", "--all") })
	return e
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func currentUserName(t testing.TB) string {
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// stix runs the stix binary and returns its combined output.
func (e *awsEnv) stix(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "stix"), args...)
	cmd.Env, cmd.Dir = e.env, e.work
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (e *awsEnv) must(args ...string) string {
	e.t.Helper()
	out, err := e.stix(args...)
	if err != nil {
		e.t.Fatalf("stix %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestAWSLaunch: `stix launch --infra aws` provisions two instances of the fake EC2 through the real SDK,
// connects over SSH, deploys the agents and runs a 2-node task; status -r asks EC2; down leaves nothing.
func TestAWSLaunch(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t)
	out := e.must("launch", "-y", "-c", "a1", "--infra", "aws", "--num-nodes", "2", "task.yaml")
	for _, want := range []string{"rank 0 of 2 ips=10.231.", "rank 1 of 2 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	insts := e.ec2.Instances()
	if len(insts) != 2 || insts[0].Region != "us-east-1" || insts[0].SubnetID != insts[1].SubnetID || insts[0].Type != "m6i.2xlarge" {
		t.Fatalf("instances: %+v", insts)
	}
	if out := e.must("status", "-r"); !strings.Contains(out, "a1") || !strings.Contains(out, "UP") {
		t.Errorf("status -r:\n%s", out)
	}
	if out := e.must("exec", "a1", "echo exec on $SKYPILOT_NODE_RANK"); !strings.Contains(out, "exec on 0") {
		t.Errorf("exec:\n%s", out)
	}
	e.must("down", "-y", "a1")
	if n, g, _ := e.ec2.Live(); n != 0 || g != 0 {
		t.Errorf("after down: %d instances, %d security groups left", n, g)
	}
}

// TestAWSFailover: EC2's InsufficientInstanceCapacity (HTTP 500, as EC2 sends it) in every zone of the
// cheapest region sends the launch zone by zone, then to the next region.
func TestAWSFailover(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t)
	for _, z := range fakeec2.Zones("us-east-1") {
		e.ec2.Fail("RunInstances", z, "InsufficientInstanceCapacity",
			"We currently do not have sufficient m6i.2xlarge capacity in the Availability Zone you requested ("+z+").")
	}
	out := e.must("launch", "-y", "-c", "f1", "--infra", "aws", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") {
		t.Errorf("launch output:\n%s", out)
	}
	var runs []string
	for _, c := range e.ec2.Calls() {
		if strings.HasPrefix(c, "RunInstances") {
			runs = append(runs, strings.TrimPrefix(c, "RunInstances "))
		}
	}
	// Every zone of us-east-1 once (in the catalog's order), then one of us-west-2.
	if len(runs) != 4 || !strings.HasPrefix(runs[3], "us-west-2") || strings.Join(sorted(runs[:3]), " ") != "us-east-1a us-east-1b us-east-1c" {
		t.Errorf("RunInstances tried %v, want us-east-1's three zones, then us-west-2\n%s", runs, out)
	}
	if insts := e.ec2.Instances(); len(insts) != 1 || insts[0].Region != "us-west-2" {
		t.Errorf("instances: %+v", insts)
	}
	if n, g, _ := e.ec2.Live(); n != 1 || g != 1 {
		t.Errorf("the failed zones left %d instances, %d security groups (want only the cluster's 1 and 1)", n, g)
	}
}

// TestAWSQuotaAndAuth: a vCPU quota rules out the whole region at once; credentials EC2 rejects rule out AWS,
// and the launch ends with the table of what was tried, leaving nothing behind.
func TestAWSQuotaAndAuth(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t)
	e.ec2.Fail("RunInstances", "us-east-1", "VcpuLimitExceeded",
		"You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket that the specified instance type belongs to.")
	e.must("launch", "-y", "-c", "q1", "task.yaml")
	var runs []string
	for _, c := range e.ec2.Calls() {
		if z, ok := strings.CutPrefix(c, "RunInstances "); ok {
			runs = append(runs, z)
		}
	}
	if len(runs) != 2 || !strings.HasPrefix(runs[0], "us-east-1") || !strings.HasPrefix(runs[1], "us-west-2") {
		t.Errorf("RunInstances tried %v, want one us-east-1 zone, then us-west-2", runs)
	}
	e.must("down", "-y", "q1")

	e.ec2.SetAccessKeys("AKIAREVOKED")
	out, err := e.stix("launch", "-y", "-c", "q2", "task.yaml")
	if err == nil {
		t.Fatalf("launch with rejected credentials succeeded:\n%s", out)
	}
	for _, want := range []string{"INFRA", "REASON", "AuthFailure"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	if n, g, _ := e.ec2.Live(); n != 0 || g != 0 {
		t.Errorf("left behind: %d instances, %d security groups", n, g)
	}
}

// BenchmarkAWSLaunch: the time stix itself spends from `launch` to the job's end on the fake EC2, 1 and 4 nodes:
// the command's wall time less the time the fake spent answering (booting its sshd hosts included). The
// instances' boot (pending → running) costs no time here: the fake shows pending once.
func BenchmarkAWSLaunch(b *testing.B) {
	for _, nodes := range []int{1, 4} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			var stixTime time.Duration
			for i := range b.N {
				e := newAWSEnv(b)
				name := fmt.Sprintf("b%d", i)
				busy := e.ec2.Busy()
				start := time.Now()
				e.must("launch", "-y", "-c", name, "--num-nodes", fmt.Sprint(nodes), "task.yaml")
				stixTime += time.Since(start) - (e.ec2.Busy() - busy)
			}
			b.ReportMetric(float64(stixTime.Milliseconds())/float64(b.N), "stix-ms/op")
		})
	}
}

// TestAWSSpotPreempted: a spot cluster whose instance AWS takes back mid-job is seen by `status -r` as gone, as
// SkyPilot drops a cluster with no node left, and its security group goes with it.
func TestAWSSpotPreempted(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t)
	e.must("launch", "-y", "-d", "-c", "s1", "--use-spot", "sleep 600")
	insts := e.ec2.Instances()
	if len(insts) != 1 || !insts[0].Spot {
		t.Fatalf("instances: %+v", insts)
	}
	e.ec2.Preempt(insts[0].ID)
	out := e.must("status", "-r")
	if strings.Contains(out, "s1") {
		t.Errorf("status -r still lists the preempted cluster:\n%s", out)
	}
	if n, g, _ := e.ec2.Live(); n != 0 || g != 0 {
		t.Errorf("after status -r dropped the preempted cluster: %d instances, %d security groups left", n, g)
	}
}

// TestAWSManagedJobSpotRecovery: a managed job on a spot instance of the fake EC2, taken back by AWS mid-run, is
// recovered by the controller (in the API server `stix jobs` starts on demand) on a new spot instance, reruns
// there and succeeds: RECOVERING (preempted), RUNNING again, SUCCEEDED with one recovery, and no instance or
// security group left.
func TestAWSManagedJobSpotRecovery(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t)
	marks := t.TempDir() // the instances are sshd hosts on this machine's filesystem: the job waits for go here
	t.Cleanup(func() { _, _ = e.stix("api", "stop") })
	out := e.must("jobs", "launch", "-y", "-d", "-n", "sp", "--infra", "aws", "--use-spot", "--env", "M="+marks,
		`echo "run $SKYPILOT_TASK_ID"; until [ -f $M/go ]; do sleep 0.1; done; echo done`)
	if strings.TrimSpace(out) == "" {
		t.Fatalf("jobs launch printed no id")
	}
	job := func() api.ManagedJob {
		t.Helper()
		var rows []api.ManagedJob
		if err := json.Unmarshal([]byte(e.must("jobs", "queue", "-a", "-o", "json")), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("jobs queue: %v, %d rows", err, len(rows))
		}
		return rows[0]
	}
	wait := func(what string, ok func(api.ManagedJob) bool) {
		t.Helper()
		if err := pollFunc(what, func() (bool, error) {
			j := job()
			return ok(j), fmt.Errorf("job is %s with %d recoveries", j.Status, j.Recoveries)
		}); err != nil {
			log, _ := e.stix("jobs", "logs", "--controller", "--no-follow", "1")
			t.Fatalf("%v\ncontroller log:\n%s", err, log)
		}
	}
	wait("the job to run", func(j api.ManagedJob) bool { return j.Status == api.ManagedRunning })
	var spot []fakeec2.Instance
	for _, in := range e.ec2.Instances() {
		if in.State == "running" && in.Spot {
			spot = append(spot, in)
		}
	}
	if len(spot) != 1 {
		t.Fatalf("running spot instances: %+v", spot)
	}
	preempted := time.Now()
	e.ec2.Preempt(spot[0].ID)
	wait("the job to be recovered and run again", func(j api.ManagedJob) bool {
		return j.Status == api.ManagedRunning && j.Recoveries == 1
	})
	t.Logf("running again on a new spot instance %v after the preemption", time.Since(preempted).Round(time.Millisecond))
	if err := os.WriteFile(filepath.Join(marks, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wait("the job to succeed", func(j api.ManagedJob) bool { return j.Status == api.ManagedSucceeded })
	log := e.must("jobs", "logs", "--controller", "--no-follow", "1")
	if !regexp.MustCompile(`(?s)RECOVERING \(preempted\).*RUNNING.*SUCCEEDED`).MatchString(log) {
		t.Errorf("controller log lacks RECOVERING (preempted) → RUNNING → SUCCEEDED:\n%s", log)
	}
	var ran []string
	for _, in := range e.ec2.Instances() {
		if in.Spot {
			ran = append(ran, in.ID)
		}
	}
	if len(ran) != 2 {
		t.Errorf("spot instances launched: %v; want the preempted one and its replacement", ran)
	}
	if err := pollFunc("the job cluster to be torn down", func() (bool, error) {
		n, g, _ := e.ec2.Live()
		return n == 0 && g == 0, fmt.Errorf("%d instances, %d security groups left", n, g)
	}); err != nil {
		t.Error(err)
	}
}

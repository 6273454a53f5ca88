package stix_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/fakegce"
)

// gcpEnv is a stix home reaching a fake Compute Engine (CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE) with a
// service-account key its token endpoint checks, and a catalog of n2-standard-8 in us-central1's three zones
// and, dearer, us-east1's.
type gcpEnv struct {
	t     testing.TB
	gce   *fakegce.Server
	work  string
	env   []string
	email string
}

func newGCPEnv(t testing.TB) *gcpEnv {
	t.Helper()
	e := &gcpEnv{t: t, gce: fakegce.New(t, "us-central1", "us-east1"), work: t.TempDir(), email: "stix@" + fakegce.Project + ".iam.gserviceaccount.com"}
	cat := filepath.Join(e.work, "catalog")
	var vms strings.Builder
	vms.WriteString("InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n")
	for i, r := range e.gce.Regions {
		for _, z := range fakegce.Zones(r) {
			fmt.Fprintf(&vms, "n2-standard-8,8.0,32.0,,,,%s,%s,%.3f,%.3f\n", r, z, 0.19+0.04*float64(i), 0.04+0.04*float64(i))
		}
	}
	images := "Tag,Region,OS,OSVersion,ImageId,CreationDate,BaseImageId\n"
	for _, tag := range []string{"skypilot:custom-cpu-ubuntu-2204", "skypilot:custom-gpu-ubuntu-2204"} {
		images += tag + ",,ubuntu,22.04," + fakegce.DefaultImage + ",20260101,\n"
	}
	write := func(name, data string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(cat, "gcp", "vms.csv"), vms.String())
	write(filepath.Join(cat, "gcp", "images.csv"), images)
	write(filepath.Join(e.work, "task.yaml"), "workdir: proj\n"+
		"run: echo \"rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(echo \"$SKYPILOT_NODE_IPS\" | tr '\\n' ,) data=$(cat data.txt)\"\n")
	write(filepath.Join(e.work, "proj", "data.txt"), "42\n")
	home := filepath.Join(e.work, "home")
	key := e.gce.ServiceAccountKey(t, e.work, e.email)
	e.env = []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home,
		"STIX_HOME=" + filepath.Join(e.work, ".stix"), "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"),
		"STIX_CATALOG_DIR=" + cat, "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs", "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=" + e.gce.Endpoint, "GOOGLE_APPLICATION_CREDENTIALS=" + key,
		"STIX_GCP_SSH_USER=" + currentUserName(t),
	}
	t.Cleanup(func() { _, _ = e.stix("down", "-y", "--all") })
	return e
}

// stix runs the stix binary and returns its combined output.
func (e *gcpEnv) stix(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "stix"), args...)
	cmd.Env, cmd.Dir = e.env, e.work
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (e *gcpEnv) must(args ...string) string {
	e.t.Helper()
	out, err := e.stix(args...)
	if err != nil {
		e.t.Fatalf("stix %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// inserts lists the zones instances.insert was called in, in order.
func (e *gcpEnv) inserts() []string {
	var zones []string
	for _, c := range e.gce.Calls() {
		if z, ok := strings.CutPrefix(c, "insert "); ok {
			zones = append(zones, z)
		}
	}
	return zones
}

// TestGCPLaunch: `stix launch --infra gcp` provisions two instances of the fake Compute Engine, connects over
// SSH with the key stix put in their metadata, deploys the agents and runs a 2-node task; status -r asks
// Compute Engine; down leaves nothing.
func TestGCPLaunch(t *testing.T) {
	t.Parallel()
	e := newGCPEnv(t)
	// `check -v` confirms the credentials with one call to the fake (its token endpoint checks the key's JWT).
	if out := e.must("check", "-v", "gcp"); !strings.Contains(out, "GCP: enabled") {
		t.Errorf("check -v gcp:\n%s", out)
	}
	out := e.must("launch", "-y", "-c", "g1", "--infra", "gcp", "--num-nodes", "2", "--ports", "8080", "task.yaml")
	for _, want := range []string{"rank 0 of 2 ips=10.231.", "rank 1 of 2 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	insts := e.gce.Instances()
	if len(insts) != 2 || insts[0].Zone != insts[1].Zone || !strings.HasPrefix(insts[0].Zone, "us-central1-") || insts[0].MachineType != "n2-standard-8" {
		t.Fatalf("instances: %+v", insts)
	}
	if out := e.must("status", "--endpoint", "8080", "g1"); !strings.HasPrefix(out, "10.231.") || !strings.HasSuffix(strings.TrimSpace(out), ":8080") {
		t.Errorf("status --endpoint 8080: %q, want the head's address", out)
	}
	if out := e.must("status", "-r"); !strings.Contains(out, "g1") || !strings.Contains(out, "UP") {
		t.Errorf("status -r:\n%s", out)
	}
	if out := e.must("exec", "g1", "echo exec on $SKYPILOT_NODE_RANK"); !strings.Contains(out, "exec on 0") {
		t.Errorf("exec:\n%s", out)
	}
	e.must("down", "-y", "g1")
	if n, fws := e.gce.Live(); n != 0 || fws != 0 {
		t.Errorf("after down: %d instances, %d firewall rules left", n, fws)
	}
}

// TestGCPFailover: ZONE_RESOURCE_POOL_EXHAUSTED in every zone of the cheapest region sends the launch zone by
// zone, then to the next region; a project-wide GPU quota then rules out GCP at once and the launch ends with
// the table of what was tried.
func TestGCPFailover(t *testing.T) {
	t.Parallel()
	e := newGCPEnv(t)
	for _, z := range fakegce.Zones("us-central1") {
		e.gce.Fail("insert", z, "ZONE_RESOURCE_POOL_EXHAUSTED", "The zone 'projects/"+fakegce.Project+"/zones/"+z+
			"' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.")
	}
	out := e.must("launch", "-y", "-c", "f1", "--infra", "gcp", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") {
		t.Errorf("launch output:\n%s", out)
	}
	runs := e.inserts()
	if len(runs) != 4 || !strings.HasPrefix(runs[3], "us-east1-") || strings.Join(sorted(runs[:3]), " ") != "us-central1-a us-central1-b us-central1-c" {
		t.Errorf("instances.insert tried %v, want us-central1's three zones, then us-east1\n%s", runs, out)
	}
	if n, fws := e.gce.Live(); n != 1 || fws != 1 {
		t.Errorf("the failed zones left %d instances, %d firewall rules (want only the cluster's 1 and 1)", n, fws)
	}
	e.must("down", "-y", "f1")

	e.gce.Fail("insert", "us-east1", "QUOTA_EXCEEDED", "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally.")
	out, err := e.stix("launch", "-y", "-c", "f2", "--infra", "gcp", "task.yaml")
	if err == nil {
		t.Fatalf("launch with no zone and no quota left succeeded:\n%s", out)
	}
	for _, want := range []string{"INFRA", "REASON", "ZONE_RESOURCE_POOL_EXHAUSTED", "GPUS_ALL_REGIONS"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	if n, fws := e.gce.Live(); n != 0 || fws != 0 {
		t.Errorf("left behind: %d instances, %d firewall rules", n, fws)
	}
}

// TestGCPQuotaAndAuth: a regional quota rules out the whole region at once; a service-account key Google no
// longer accepts rules out GCP, and the launch ends with the table of what was tried, leaving nothing behind.
func TestGCPQuotaAndAuth(t *testing.T) {
	t.Parallel()
	e := newGCPEnv(t)
	e.gce.Fail("insert", "us-central1", "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.  Limit: 0.0 in region us-central1.")
	e.must("launch", "-y", "-c", "q1", "--infra", "gcp", "task.yaml")
	if runs := e.inserts(); len(runs) != 2 || !strings.HasPrefix(runs[0], "us-central1-") || !strings.HasPrefix(runs[1], "us-east1-") {
		t.Errorf("instances.insert tried %v, want one us-central1 zone, then us-east1", runs)
	}
	e.must("down", "-y", "q1")

	e.gce.Revoke(e.email)
	out, err := e.stix("launch", "-y", "-c", "q2", "--infra", "gcp", "task.yaml")
	if err == nil {
		t.Fatalf("launch with a revoked key succeeded:\n%s", out)
	}
	for _, want := range []string{"INFRA", "REASON", "invalid_grant"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	if n, fws := e.gce.Live(); n != 0 || fws != 0 {
		t.Errorf("left behind: %d instances, %d firewall rules", n, fws)
	}
}

// TestGCPBadInput: an image_id that does not exist and ports out of range are refused with a clear error, and
// nothing is left on Compute Engine.
func TestGCPBadInput(t *testing.T) {
	t.Parallel()
	e := newGCPEnv(t)
	for _, tc := range []struct {
		args   []string
		saying string
	}{
		{[]string{"--image-id", "projects/nobody/global/images/nothing"}, "projects/nobody/global/images/nothing"},
		{[]string{"--ports", "70000"}, "70000"},
		{[]string{"--infra", "gcp/mars-north1"}, "mars-north1"},
	} {
		args := append([]string{"launch", "-y", "-c", "bad"}, tc.args...)
		if tc.args[0] != "--infra" {
			args = append(args, "--infra", "gcp")
		}
		out, err := e.stix(append(args, "task.yaml")...)
		if err == nil || !strings.Contains(out, tc.saying) {
			t.Errorf("stix %s: %v, want an error saying %q:\n%s", strings.Join(tc.args, " "), err, tc.saying, out)
		}
		if n, fws := e.gce.Live(); n != 0 || fws != 0 {
			t.Errorf("%s left %d instances, %d firewall rules", strings.Join(tc.args, " "), n, fws)
		}
	}
}

// TestGCPSpotPreempted: a spot cluster whose VM Compute Engine takes back mid-job is seen by `status -r` as gone
// and dropped, as SkyPilot drops a cluster with no node left; its VM and firewall rule go with it.
func TestGCPSpotPreempted(t *testing.T) {
	t.Parallel()
	e := newGCPEnv(t)
	e.must("launch", "-y", "-d", "-c", "s1", "--infra", "gcp", "--use-spot", "sleep 600")
	insts := e.gce.Instances()
	if len(insts) != 1 || !insts[0].Spot {
		t.Fatalf("instances: %+v", insts)
	}
	e.gce.Preempt(insts[0].Name)
	if out := e.must("status", "-r"); strings.Contains(out, "s1") {
		t.Errorf("status -r still lists the preempted cluster:\n%s", out)
	}
	if n, fws := e.gce.Live(); n != 0 || fws != 0 {
		t.Errorf("after status -r dropped the preempted cluster: %d instances, %d firewall rules left", n, fws)
	}
}

// BenchmarkGCPLaunch: the time stix itself spends from `launch` to the job's end on the fake Compute Engine, 1
// and 4 nodes: the command's wall time less the time the fake spent answering (booting its sshd hosts included).
// infra=local launches the same task on the local provider in the same run: the baseline the figures are read
// against (docs: BENCHMARKS.md).
func BenchmarkGCPLaunch(b *testing.B) {
	for _, infra := range []string{"gcp", "local"} {
		for _, nodes := range []int{1, 4} {
			b.Run(fmt.Sprintf("infra=%s/nodes=%d", infra, nodes), func(b *testing.B) {
				var stixTime time.Duration
				for i := range b.N {
					e := newGCPEnv(b)
					name := fmt.Sprintf("b%d", i)
					busy := e.gce.Busy()
					start := time.Now()
					e.must("launch", "-y", "-c", name, "--infra", infra, "--num-nodes", fmt.Sprint(nodes), "task.yaml")
					stixTime += time.Since(start) - (e.gce.Busy() - busy)
				}
				b.ReportMetric(float64(stixTime.Milliseconds())/float64(b.N), "stix-ms/op")
			})
		}
	}
}

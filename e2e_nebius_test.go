package stix_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/fakenebius"
)

// nebiusEnv is a stix home reaching a fake Nebius (a gRPC server) through stix's own gRPC client
// (STIX_NEBIUS_ENDPOINT), with the catalog of internal/cloud/nebius/testdata/vms.csv: cpu-d3_4vcpu-16gb in
// eu-north1 and, dearer, eu-west1.
type nebiusEnv struct {
	*awsEnv // the stix/must helpers; no EC2 here
	nb      *fakenebius.Server
}

func newNebiusEnv(t testing.TB) *nebiusEnv {
	t.Helper()
	e := &nebiusEnv{awsEnv: &awsEnv{t: t, work: t.TempDir()},
		nb: fakenebius.New(t, []string{"eu-north1", "eu-west1"},
			fakenebius.Preset{Platform: "cpu-d3", Preset: "4vcpu-16gb", Regions: []string{"eu-north1", "eu-west1"}},
			fakenebius.Preset{Platform: "cpu-d3", Preset: "8vcpu-32gb", Regions: []string{"eu-west1"}})}
	vms, err := os.ReadFile(filepath.Join("internal", "cloud", "nebius", "testdata", "vms.csv"))
	if err != nil {
		t.Fatal(err)
	}
	cat := filepath.Join(e.work, "catalog")
	write := func(name, data string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(cat, "nebius", "vms.csv"), string(vms))
	write(filepath.Join(e.work, "home", ".nebius", "NEBIUS_TENANT_ID.txt"), fakenebius.Tenant+"\n")
	write(filepath.Join(e.work, "task.yaml"), "workdir: proj\nresources:\n  cpus: 4\n"+
		"run: echo \"rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(echo \"$SKYPILOT_NODE_IPS\" | tr '\\n' ,) data=$(cat data.txt)\"\n")
	write(filepath.Join(e.work, "proj", "data.txt"), "42\n")
	e.env = append([]string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + filepath.Join(e.work, "home"),
		"STIX_HOME=" + filepath.Join(e.work, ".stix"), "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"),
		"STIX_CATALOG_DIR=" + cat, "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs", "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"STIX_NEBIUS_SSH_USER=" + currentUserName(t),
	}, e.nb.Env()...)
	t.Cleanup(func() { _, _ = e.stix("down", "-y", "--all") })
	return e
}

// left says what a Nebius test left behind: instances, disks.
func (e *nebiusEnv) left(t *testing.T, what string) {
	t.Helper()
	if in, d := e.nb.Live(); in != 0 || d != 0 {
		t.Errorf("%s left %d instances, %d disks", what, in, d)
	}
}

// TestNebiusLaunch: `stix launch --infra nebius` finds the region's project (the tenant's) and its subnet,
// creates a boot disk and an instance per node (platform and preset from the catalog's instance type, a public
// address, stix's key in cloud-init user data) in the cheapest region, deploys the agents and runs a 2-node task
// on the private addresses; logs, exec, status -r, check -v and --endpoints work; stop stops the instances
// (STOPPED), start starts them and the job table is still there; down deletes the instances and disks.
func TestNebiusLaunch(t *testing.T) {
	t.Parallel()
	e := newNebiusEnv(t)
	out := e.must("launch", "-y", "-c", "n1", "--infra", "nebius", "--num-nodes", "2", "--ports", "8080", "task.yaml")
	for _, want := range []string{"rank 0 of 2 ips=10.231.", "rank 1 of 2 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	ins, disks := e.nb.Instances(), e.nb.Disks()
	if len(ins) != 2 || ins[0].Region != "eu-north1" || ins[0].Platform != "cpu-d3" || ins[0].Preset != "4vcpu-16gb" ||
		!strings.HasPrefix(ins[0].Name, "n1-") || !strings.HasSuffix(ins[1].Name, "-1") || ins[0].Preemptible ||
		!strings.Contains(ins[0].UserData, "ssh_authorized_keys") {
		t.Fatalf("instances: %+v", ins)
	}
	if len(disks) != 2 || disks[0].Family != "ubuntu22.04-driverless" || disks[0].SizeGiB != 256 || disks[0].ID != ins[0].DiskID {
		t.Fatalf("disks: %+v", disks)
	}
	e.vmVerbs(t, "nebius", "n1", "rank 1 of 2", func() (on []string) {
		for _, in := range e.nb.Instances() {
			if in.State != "STOPPED" {
				on = append(on, in.Name+" is "+in.State)
			}
		}
		return on
	}, func(after string) { e.left(t, after) })
}

// TestNebiusFailover: Nebius's answer when a region has no capacity (the instance's Create operation fails
// with RESOURCE_EXHAUSTED and a NotEnoughResources detail) rules out that region: the launch lands in the next,
// and nothing is left in the first (the failed instance and its disk are deleted).
func TestNebiusFailover(t *testing.T) {
	t.Parallel()
	e := newNebiusEnv(t)
	e.nb.Fail("instance.create", "eu-north1", fakenebius.NotEnoughResources("cpu-d3"))
	out := e.must("launch", "-y", "-c", "f1", "--infra", "nebius", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") {
		t.Errorf("launch output:\n%s", out)
	}
	var creates []string
	for _, c := range e.nb.Calls() {
		if r, ok := strings.CutPrefix(c, "instance.create "); ok {
			creates = append(creates, r)
		}
	}
	if strings.Join(creates, ",") != "eu-north1,eu-west1" {
		t.Errorf("creates in %v, want eu-north1 then eu-west1\n%s", creates, out)
	}
	if ins, ds := e.nb.Instances(), e.nb.Disks(); len(ins) != 1 || ins[0].Region != "eu-west1" || len(ds) != 1 {
		t.Errorf("instances %+v, disks %+v: want the one of eu-west1 and its disk", ins, ds)
	}
	e.must("down", "-y", "f1")
	e.left(t, "down")
}

// TestNebiusErrors: a token Nebius rejects, a quota of zero, an image family that does not exist, an instance
// type the catalog does not offer in the region (refused at planning) and one Nebius does not offer there
// (INVALID_ARGUMENT) are each refused with a clear message and leave nothing behind.
func TestNebiusErrors(t *testing.T) {
	t.Parallel()
	e := newNebiusEnv(t)
	fail := func(what string, wants []string, args ...string) {
		t.Helper()
		e.refused(t, what, wants, func(w string) { e.left(t, w) }, args...)
	}
	fail("no such image", []string{"image ubuntu99.04-cuda13 does not exist", "not found"},
		"launch", "-y", "-c", "b1", "--infra", "nebius", "--image-id", "ubuntu99.04-cuda13", "task.yaml")
	fail("type not in region", []string{"cpu-d3_8vcpu-32gb", "eu-west1"},
		"launch", "-y", "-c", "b2", "--infra", "nebius/eu-west1", "--instance-type", "cpu-d3_8vcpu-32gb", "echo hi")
	fail("type Nebius does not offer there", []string{"cpu-d3_8vcpu-32gb", "INVALID_ARGUMENT", "not available in region eu-north1"},
		"launch", "-y", "-c", "b3", "--infra", "nebius/eu-north1", "--instance-type", "cpu-d3_8vcpu-32gb", "echo hi")
	e.nb.SetQuota("eu-north1", -1)
	e.nb.SetQuota("eu-west1", -1)
	fail("quota zero", []string{"INFRA", "REASON", "nebius/eu-north1", "nebius/eu-west1", "RESOURCE_EXHAUSTED", "quota exceeded"},
		"launch", "-y", "-c", "b4", "--infra", "nebius", "task.yaml")
	e.nb.SetQuota("eu-north1", 0)
	e.nb.SetQuota("eu-west1", 0)
	e.nb.SetTokens("ne1revoked")
	fail("rejected token", []string{"INFRA", "REASON", "UNAUTHENTICATED", "invalid or expired IAM token"},
		"launch", "-y", "-c", "b5", "--infra", "nebius", "task.yaml")
	out, err := e.stix("check", "-v", "nebius")
	if !strings.Contains(out, "invalid or expired IAM token") {
		t.Errorf("check -v with a rejected token (err %v):\n%s", err, out)
	}
}

// TestNebiusAutostop: the head holds no Nebius credentials: autostop powers the nodes off, and Nebius stops an
// instance whose OS shut it down (stix creates them with recovery policy FAIL); status -r sees it STOPPED and
// start brings the cluster back. Autodown is finished by the client: status -r finds the head stopped and
// deletes the cluster, instances and disks.
func TestNebiusAutostop(t *testing.T) {
	t.Parallel()
	e := newNebiusEnv(t)
	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "na1", "--infra", "nebius", "--cpus", "4", "-i", "1", "echo ran")
	if ins := e.nb.Instances(); len(ins) != 1 || !ins[0].RecoveryFail {
		t.Fatalf("instances: %+v, want one with recovery policy FAIL", ins)
	}
	waitVMCluster(t, e.stix, "na1", "STOPPED")
	if ins := e.nb.Instances(); len(ins) != 1 || ins[0].State != "STOPPED" {
		t.Errorf("instances after autostop: %+v", ins)
	}
	e.env = append(e.env, "STIX_IDLE_UNIT=1h")
	e.must("start", "-y", "na1")
	if out := e.must("queue", "na1"); !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("queue after start:\n%s", out)
	}
	e.must("down", "-y", "na1")
	e.left(t, "down")

	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "na2", "--infra", "nebius", "--cpus", "4", "-i", "1", "--down", "echo ran too")
	waitVMCluster(t, e.stix, "na2", "gone")
	e.left(t, "autodown")
}

// TestNebiusSpotPreempted: use_spot makes a preemptible instance (Nebius stops one it takes back); a spot cluster
// whose instance Nebius takes back mid-job is seen by `status -r` as gone and dropped, its instance and disk with
// it.
func TestNebiusSpotPreempted(t *testing.T) {
	t.Parallel()
	e := newNebiusEnv(t)
	e.must("launch", "-y", "-d", "-c", "s1", "--infra", "nebius", "--use-spot", "sleep 600")
	ins := e.nb.Instances()
	if len(ins) != 1 || !ins[0].Preemptible || !ins[0].RecoveryFail {
		t.Fatalf("instances: %+v", ins)
	}
	e.nb.Preempt(ins[0].ID)
	if out := e.must("status", "-r"); strings.Contains(out, "s1") {
		t.Errorf("status -r still lists the preempted cluster:\n%s", out)
	}
	e.left(t, "status -r of a preempted cluster")
	if out, err := e.stix("launch", "-y", "-d", "-c", "s2", "--infra", "nebius", "--use-spot", "-i", "5", "sleep 1"); err == nil ||
		!strings.Contains(out, "autodown") {
		t.Errorf("autostop (not autodown) of a spot cluster: %v\n%s", err, out)
	}
}

// TestNebiusServiceAccountAndProject: with a service account key (~/.nebius/credentials.json) and no token,
// stix exchanges a signed JWT for an IAM token (TokenExchangeService); with the region's project named in stix's
// config (nebius.region_configs.REGION.project_id) it needs no tenant id and lists no projects.
func TestNebiusServiceAccountAndProject(t *testing.T) {
	t.Parallel()
	e := newNebiusEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	e.nb.AddServiceAccountKey("publickey-e00e2e", &key.PublicKey)
	creds, _ := json.Marshal(map[string]any{"subject-credentials": map[string]string{"alg": "RS256", "kid": "publickey-e00e2e",
		"private-key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"iss":         "serviceaccount-e00e2e", "sub": "serviceaccount-e00e2e"}})
	home := filepath.Join(e.work, "home", ".nebius")
	if err := os.WriteFile(filepath.Join(home, "credentials.json"), creds, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(home, "NEBIUS_TENANT_ID.txt")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(e.work, "config.yaml")
	if err := os.WriteFile(cfg, []byte("nebius:\n  region_configs:\n    eu-west1:\n      project_id: "+fakenebius.Project("eu-west1")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range e.env {
		if !strings.HasPrefix(kv, "NEBIUS_IAM_TOKEN=") {
			env = append(env, kv)
		}
	}
	e.env = append(env, "STIX_CONFIG="+cfg)
	if out := e.must("check", "-v", "nebius"); !strings.Contains(out, "service account key in ~/.nebius/credentials.json") || !strings.Contains(out, ": enabled") {
		t.Errorf("check -v nebius:\n%s", out)
	}
	out := e.must("launch", "-y", "-c", "sa1", "--infra", "nebius/eu-west1", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") {
		t.Errorf("launch output:\n%s", out)
	}
	if ins := e.nb.Instances(); len(ins) != 1 || ins[0].Project != fakenebius.Project("eu-west1") {
		t.Errorf("instances: %+v", ins)
	}
	calls := e.nb.Calls()
	if !slices.Contains(calls, "token.exchange") || slices.Contains(calls, "project.list") {
		t.Errorf("calls %v: want a token exchange and no project listing", calls)
	}
	e.must("down", "-y", "sa1")
	e.left(t, "down")
}

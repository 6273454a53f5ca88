package stix_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/fakedo"
)

// doEnv is a stix home reaching a fake DigitalOcean through stix's own HTTP client (STIX_DO_ENDPOINT), with the
// catalog of internal/cloud/do/testdata/vms.csv: s-4vcpu-8gb in nyc1 and, dearer, sfo3.
type doEnv struct {
	*awsEnv // the stix/must helpers; no EC2 here
	do      *fakedo.Server
}

func newDOEnv(t testing.TB) *doEnv {
	t.Helper()
	e := &doEnv{awsEnv: &awsEnv{t: t, work: t.TempDir()},
		do: fakedo.New(t, fakedo.Size{Slug: "s-4vcpu-8gb", VCPUs: 4, Memory: 8192, Price: 0.07143, Regions: []string{"nyc1", "sfo3"}, Disk: 160})}
	vms, err := os.ReadFile(filepath.Join("internal", "cloud", "do", "testdata", "vms.csv"))
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
	write(filepath.Join(cat, "do", "vms.csv"), string(vms))
	write(filepath.Join(e.work, "task.yaml"), "workdir: proj\nresources:\n  cpus: 4\n"+
		"run: echo \"rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(echo \"$SKYPILOT_NODE_IPS\" | tr '\\n' ,) data=$(cat data.txt)\"\n")
	write(filepath.Join(e.work, "proj", "data.txt"), "42\n")
	e.env = []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + filepath.Join(e.work, "home"),
		"STIX_HOME=" + filepath.Join(e.work, ".stix"), "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"),
		"STIX_CATALOG_DIR=" + cat, "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs", "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"STIX_DO_ENDPOINT=" + e.do.URL, "DIGITALOCEAN_ACCESS_TOKEN=" + fakedo.Token, "STIX_DO_SSH_USER=" + currentUserName(t),
	}
	t.Cleanup(func() { _, _ = e.stix("down", "-y", "--all") })
	return e
}

// left says what a DigitalOcean test left behind: droplets, firewalls, volumes.
func (e *doEnv) left(t *testing.T, what string) {
	t.Helper()
	if d, fw, _ := e.do.Live(); d != 0 || fw != 0 || len(e.do.Volumes()) != 0 {
		t.Errorf("%s left %d droplets, %d firewalls, volumes %+v", what, d, fw, e.do.Volumes())
	}
}

// TestDOLaunch: `stix launch --infra do` registers stix's SSH key, makes the cluster's firewall (SSH and the
// task's port), creates two droplets in the cheapest region (each with a 256 GB volume: the default disk_size is
// beyond s-4vcpu-8gb's 160 GB disk), connects over SSH, deploys the agents
// and runs a 2-node task; logs, exec, status -r and --endpoints work; stop powers the droplets off (STOPPED),
// start powers them on and the job table is still there; down leaves nothing.
func TestDOLaunch(t *testing.T) {
	t.Parallel()
	e := newDOEnv(t)
	out := e.must("launch", "-y", "-c", "d1", "--infra", "do", "--num-nodes", "2", "--ports", "8080", "task.yaml")
	for _, want := range []string{"rank 0 of 2 ips=10.231.", "rank 1 of 2 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	ds := e.do.Droplets()
	if len(ds) != 2 || ds[0].Region != "nyc1" || ds[0].Size != "s-4vcpu-8gb" || ds[0].Image != "ubuntu-22-04-x64" ||
		!strings.HasPrefix(ds[0].Name, "d1-") || !strings.HasSuffix(ds[1].Name, "-1") || len(ds[0].Tags) != 1 {
		t.Fatalf("droplets: %+v", ds)
	}
	fws := e.do.Firewalls()
	if len(fws) != 1 || !slices.Equal(fws[0].Tags, ds[0].Tags) {
		t.Fatalf("firewalls %+v: want one applied by the droplets' tag %v", fws, ds[0].Tags)
	}
	var ports []string
	for _, r := range fws[0].Inbound {
		if _, anywhere := r["sources"].(map[string]any)["addresses"]; anywhere {
			ports = append(ports, r["ports"].(string))
		}
	}
	if strings.Join(ports, ",") != "22,8080" {
		t.Errorf("ports open to anywhere: %v, want 22 and 8080", ports)
	}
	e.vmVerbs(t, "do", "d1", "rank 1 of 2", func() (on []string) {
		for _, d := range e.do.Droplets() {
			if d.Status != "off" {
				on = append(on, d.Name+" is "+d.Status)
			}
		}
		return on
	}, func(after string) { e.left(t, after) })
}

// TestDOFailover: DigitalOcean's answer to the create call when the size is out in the cheapest region (HTTP
// 422, "Size is not available in this region.") rules out that region: the launch lands in the next, and
// nothing is left in the first.
func TestDOFailover(t *testing.T) {
	t.Parallel()
	e := newDOEnv(t)
	e.do.Fail("create", "nyc1", http.StatusUnprocessableEntity, "unprocessable_entity", fakedo.SizeUnavailable)
	out := e.must("launch", "-y", "-c", "f1", "--infra", "do", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") {
		t.Errorf("launch output:\n%s", out)
	}
	var creates []string
	for _, c := range e.do.Calls() {
		if r, ok := strings.CutPrefix(c, "create "); ok {
			creates = append(creates, r)
		}
	}
	if strings.Join(creates, ",") != "nyc1,sfo3" {
		t.Errorf("creates in %v, want nyc1 then sfo3\n%s", creates, out)
	}
	if ds, fws := e.do.Droplets(), e.do.Firewalls(); len(ds) != 1 || ds[0].Region != "sfo3" || len(fws) != 1 {
		t.Errorf("droplets %+v, firewalls %+v: want the one of sfo3 and its firewall", ds, fws)
	}
	e.must("down", "-y", "f1")
	e.left(t, "down")
}

// TestDOErrors: a token DigitalOcean rejects, a droplet limit of zero, an image that does not exist, a size the
// catalog does not offer in the region (refused at planning) and one DigitalOcean offers in no region now (each
// region ruled out in turn) are each refused with a clear message and leave nothing behind.
func TestDOErrors(t *testing.T) {
	t.Parallel()
	e := newDOEnv(t)
	fail := func(what string, wants []string, args ...string) {
		t.Helper()
		e.refused(t, what, wants, func(w string) { e.left(t, w) }, args...)
	}
	fail("no such image", []string{"image ubuntu-99-04-x64 does not exist"},
		"launch", "-y", "-c", "b1", "--infra", "do", "--image-id", "ubuntu-99-04-x64", "task.yaml")
	fail("size not in region", []string{"s-8vcpu-16gb", "sfo3"},
		"launch", "-y", "-c", "b2", "--infra", "do/sfo3", "--instance-type", "s-8vcpu-16gb", "echo hi")
	e.do.SetSizeRegions("s-4vcpu-8gb") // the catalog lists it in nyc1 and sfo3; DigitalOcean offers it nowhere now
	fail("size offered nowhere now", []string{"INFRA", "REASON", "do/nyc1", "do/sfo3", "not available in nyc1", "not available in sfo3"},
		"launch", "-y", "-c", "b5", "--infra", "do", "task.yaml")
	e.do.SetSizeRegions("s-4vcpu-8gb", "nyc1", "sfo3")
	e.do.SetDropletLimit(0)
	fail("droplet limit zero", []string{"INFRA", "REASON", "droplet limit is 0"}, "launch", "-y", "-c", "b3", "--infra", "do", "task.yaml")
	if slices.ContainsFunc(e.do.Calls(), func(c string) bool { return strings.HasPrefix(c, "create") }) {
		t.Errorf("calls %v: a create call though the limit leaves no room", e.do.Calls())
	}
	e.do.SetDropletLimit(25)
	e.do.SetTokens("dop_v1_revoked")
	fail("rejected token", []string{"INFRA", "REASON", "unauthorized", "Unable to authenticate you"}, "launch", "-y", "-c", "b4", "--infra", "do", "task.yaml")
	out, err := e.stix("check", "-v", "do")
	if !strings.Contains(out, "Unable to authenticate you") {
		t.Errorf("check -v with a rejected token (err %v):\n%s", err, out)
	}
}

// TestDOAutostop: DigitalOcean bills a droplet that powers itself off, so the head ends the cluster through the
// API with the token the client gave it: autostop powers the droplets off by tag (status -r: STOPPED; start
// brings the cluster back), autodown deletes them, each with its volume, and the firewall (the cluster is gone).
func TestDOAutostop(t *testing.T) {
	t.Parallel()
	e := newDOEnv(t)
	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "da1", "--infra", "do", "--cpus", "4", "-i", "1", "echo ran")
	waitVMCluster(t, e.stix, "da1", "STOPPED")
	if ds := e.do.Droplets(); len(ds) != 1 || ds[0].Status != "off" {
		t.Errorf("droplets after autostop: %+v", ds)
	}
	e.env = append(e.env, "STIX_IDLE_UNIT=1h")
	e.must("start", "-y", "da1")
	if out := e.must("queue", "da1"); !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("queue after start:\n%s", out)
	}
	e.must("down", "-y", "da1")

	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	volumeCalls := func() int {
		return len(slices.DeleteFunc(e.do.Calls(), func(c string) bool { return !strings.HasPrefix(c, "create-volume") }))
	}
	before := volumeCalls()
	e.must("launch", "-y", "-d", "-c", "da2", "--infra", "do", "--cpus", "4", "-i", "1", "--down", "echo ran too")
	waitGone(t, "the droplet", func() int { n, _, _ := e.do.Live(); return n })
	if volumeCalls() != before+1 {
		t.Errorf("%d volumes made for da2, want 1 (the default disk_size, 256, is beyond the size's 160 GB)", volumeCalls()-before)
	}
	if vs := e.do.Volumes(); len(vs) != 0 { // the head deleted it with its droplet
		t.Errorf("volumes after autodown: %+v, want the droplet's deleted with it", vs)
	}
	if st, err := clusterStatus(e.stix, "da2"); err != nil || st != "gone" {
		t.Errorf("status -r after autodown: %s, %v; want the cluster gone", st, err)
	}
	e.left(t, "autodown")

	// The user's own `stix stop` of a cluster set to autodown is a stop, not an autodown (as on GCP).
	e.env = append(e.env, "STIX_IDLE_UNIT=1h")
	e.must("launch", "-y", "-d", "-c", "da3", "--infra", "do", "--cpus", "4", "-i", "5", "--down", "echo ran")
	e.must("stop", "-y", "da3")
	if st, err := clusterStatus(e.stix, "da3"); err != nil || st != "STOPPED" {
		t.Errorf("status -r after the user's stop of an autodown cluster: %s, %v; want STOPPED", st, err)
	}
	if ds := e.do.Droplets(); len(ds) != 1 || ds[0].Status != "off" {
		t.Errorf("droplets after the user's stop: %+v, want the one off", ds)
	}
	e.must("down", "-y", "da3")
	e.left(t, "the user's stop and down")
}

// TestDODiskSize: a disk_size beyond the size's own disk (s-4vcpu-8gb: 160 GB) gets each node a block-storage
// volume of disk_size GB, as SkyPilot gives DO nodes: created first (ext4, so that DigitalOcean formats and
// mounts it; tagged with the cluster's tag) and attached in its droplet's create call; down deletes the
// volumes once DigitalOcean has detached them. One the size's disk holds gets none (the droplets are made in
// one call). One beyond DigitalOcean's largest volume (16 TiB) is refused before anything is made.
func TestDODiskSize(t *testing.T) {
	t.Parallel()
	e := newDOEnv(t)
	e.must("launch", "-y", "-c", "v1", "--infra", "do", "--num-nodes", "2", "--disk-size", "500", "task.yaml")
	ds, vs := e.do.Droplets(), e.do.Volumes()
	if len(ds) != 2 || len(vs) != 2 {
		t.Fatalf("droplets %+v, volumes %+v: want two of each", ds, vs)
	}
	for i, v := range vs {
		if v.SizeGigabytes != 500 || v.FilesystemType != "ext4" || v.Region != "nyc1" || !slices.Equal(v.Tags, ds[i].Tags) ||
			!slices.Equal(v.DropletIDs, []int{ds[i].ID}) || !strings.HasSuffix(v.Name, strings.TrimPrefix(ds[i].Name, "v1")) {
			t.Errorf("volume %d: %+v, want 500 GB ext4 in nyc1 with the tag %v attached to droplet %d (%s)", i, v, ds[i].Tags, ds[i].ID, ds[i].Name)
		}
	}
	if out := e.must("exec", "v1", "echo still runs"); !strings.Contains(out, "still runs") {
		t.Errorf("exec:\n%s", out)
	}
	e.must("down", "-y", "v1")
	e.left(t, "down of a cluster with volumes")

	e.must("launch", "-y", "-c", "v2", "--infra", "do", "--num-nodes", "2", "--disk-size", "100", "task.yaml")
	if vs := e.do.Volumes(); len(vs) != 0 {
		t.Errorf("disk_size 100 on a 160 GB size: volumes %+v, want none", vs)
	}
	creates := 0
	for _, c := range e.do.Calls() {
		if c == "create nyc1" {
			creates++
		}
	}
	if creates != 3 { // v1's two droplets one by one, v2's in one call
		t.Errorf("%d create calls, want 3 (v1's two, v2's one)", creates)
	}
	e.must("down", "-y", "v2")
	e.left(t, "down")

	before := len(e.do.Calls())
	out, err := e.stix("launch", "-y", "-c", "v3", "--infra", "do", "--disk-size", "20000", "task.yaml")
	if err == nil || !strings.Contains(out, "16384") || !strings.Contains(out, "disk_size 20000") {
		t.Errorf("disk_size 20000 (err %v):\n%s", err, out)
	}
	e.left(t, "disk_size beyond 16 TiB")
	t.Logf("disk_size 20000:\n%s", out)
	if calls := e.do.Calls()[before:]; slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "create") || c == "account" }) {
		t.Errorf("calls for disk_size 20000: %v, want nothing asked nor made", calls)
	}
}

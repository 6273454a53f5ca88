package stix_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/fakepaperspace"
)

// paperspaceEnv is a stix home reaching a fake Paperspace through stix's own HTTP client
// (STIX_PAPERSPACE_ENDPOINT), whose machines are sshd hosts in network namespaces, with the test catalog of
// fakepaperspace (C5 cheapest in East Coast (NY2), then West Coast (CA1), then Europe (AMS1)) and no other cloud.
type paperspaceEnv struct {
	*awsEnv // the stix/must helpers; no EC2 here
	ps      *fakepaperspace.Server
}

func newPaperspaceEnv(t testing.TB) *paperspaceEnv {
	t.Helper()
	e := &paperspaceEnv{awsEnv: &awsEnv{t: t, work: t.TempDir()}, ps: fakepaperspace.New(t, fakepaperspace.CatalogTypes...)}
	cat := filepath.Join(e.work, "catalog")
	fakepaperspace.WriteCatalog(t, cat)
	if err := os.MkdirAll(filepath.Join(e.work, "proj"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"task.yaml": "workdir: proj\nresources:\n  cpus: 4\n" +
			"run: echo \"rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(echo \"$SKYPILOT_NODE_IPS\" | tr '\\n' ,) data=$(cat data.txt)\"\n",
		"proj/data.txt": "42\n",
	} {
		if err := os.WriteFile(filepath.Join(e.work, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.env = []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + filepath.Join(e.work, "home"),
		"STIX_HOME=" + filepath.Join(e.work, ".stix"), "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"),
		"STIX_CATALOG_DIR=" + cat, "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs", "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"STIX_PAPERSPACE_ENDPOINT=" + e.ps.URL, "PAPERSPACE_API_KEY=" + fakepaperspace.APIKey,
		"STIX_PAPERSPACE_SSH_USER=" + currentUserName(t),
	}
	t.Cleanup(func() { _, _ = e.stix("down", "-y", "--all") })
	return e
}

// left fails the test when machines or private networks are left on the fake.
func (e *paperspaceEnv) left(t *testing.T, what string) {
	t.Helper()
	if m, n, _ := e.ps.Live(); m != 0 || n != 0 {
		t.Errorf("%s left %d machines, %d private networks: %+v", what, m, n, e.ps.Machines())
	}
}

// TestPaperspaceLaunch: `stix launch --infra paperspace` registers the startup script holding stix's key, makes
// a private network and two C5 machines in the cheapest region, connects over SSH, deploys the agents and runs a
// 2-node task; exec, logs, status -r and --endpoints work; stop leaves the machines off and STOPPED, start brings
// them back with the job table; down deletes the machines and the network.
func TestPaperspaceLaunch(t *testing.T) {
	t.Parallel()
	e := newPaperspaceEnv(t)
	out := e.must("launch", "-y", "-c", "p1", "--infra", "paperspace", "--num-nodes", "2", "--ports", "8080", "task.yaml")
	for _, want := range []string{"rank 0 of 2 ips=10.231.", "rank 1 of 2 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	ms := e.ps.Machines()
	if len(ms) != 2 || ms[0].Region != "East Coast (NY2)" || ms[0].Type != "C5" || ms[0].TemplateID != "t0nspur5" ||
		ms[0].DiskSize != 500 || ms[0].NetworkID == "" || ms[1].NetworkID != ms[0].NetworkID || len(ms[0].Keys) != 1 {
		t.Fatalf("machines: %+v", ms)
	}
	if !strings.HasPrefix(ms[0].Name, "p1-") || !strings.HasSuffix(ms[0].Name, "-0") || !strings.HasSuffix(ms[1].Name, "-1") {
		t.Errorf("machine names %q, %q do not name the cluster and rank", ms[0].Name, ms[1].Name)
	}
	if out := e.must("status", "-r"); !strings.Contains(out, "p1") || !strings.Contains(out, "UP") || !strings.Contains(out, "Paperspace") {
		t.Errorf("status -r:\n%s", out)
	}
	e.vmVerbs(t, "paperspace", "p1", "data=42", func() (on []string) {
		for _, m := range e.ps.Machines() {
			if m.State != "off" && m.State != "stopping" {
				on = append(on, m.ID+" is "+m.State)
			}
		}
		return on
	}, func(after string) {
		e.left(t, after)
		if _, _, scripts := e.ps.Live(); scripts != 1 {
			t.Errorf("%d startup scripts, want stix's one, kept for the next launch", scripts)
		}
	})
}

// TestPaperspaceFailover: Paperspace's out-of-capacity answer in East Coast (NY2), for the second machine of the
// cluster, sends the launch to West Coast (CA1), leaving nothing in NY2. With no capacity anywhere the launch
// fails with the table of what was tried, leaving nothing.
func TestPaperspaceFailover(t *testing.T) {
	t.Parallel()
	e := newPaperspaceEnv(t)
	e.ps.FailAfter(1, "create", "East Coast (NY2)", http.StatusBadRequest, "BAD_REQUEST", fakepaperspace.NoCapacity)
	out := e.must("launch", "-y", "-c", "f1", "--infra", "paperspace", "--num-nodes", "2", "task.yaml")
	if !strings.Contains(out, "rank 1 of 2") {
		t.Errorf("launch output:\n%s", out)
	}
	var creates []string
	for _, c := range e.ps.Calls() {
		if r, ok := strings.CutPrefix(c, "create "); ok {
			creates = append(creates, r)
		}
	}
	if want := []string{"East Coast (NY2)", "East Coast (NY2)", "West Coast (CA1)", "West Coast (CA1)"}; !slices.Equal(creates, want) {
		t.Errorf("creates in %q, want %q", creates, want)
	}
	for _, m := range e.ps.Machines() {
		if m.Region != "West Coast (CA1)" {
			t.Errorf("machine %s in %s", m.ID, m.Region)
		}
	}
	if m, n, _ := e.ps.Live(); m != 2 || n != 1 {
		t.Errorf("%d machines, %d networks; want the cluster's 2 and 1", m, n)
	}
	e.must("down", "-y", "f1")

	e.ps.Fail("create", "", http.StatusBadRequest, "BAD_REQUEST", fakepaperspace.NoCapacity)
	out, err := e.stix("launch", "-y", "-c", "f2", "--infra", "paperspace", "task.yaml")
	if err == nil {
		t.Fatalf("launch with no capacity anywhere succeeded:\n%s", out)
	}
	for _, want := range []string{"INFRA", "REASON", "NY2", "CA1", "AMS1", "out of capacity"} {
		if !strings.Contains(out, want) {
			t.Errorf("failure table lacks %q:\n%s", want, out)
		}
	}
	e.left(t, "no capacity anywhere")
}

// TestPaperspaceErrors: a key Paperspace rejects, an instance type a region does not offer, a quota of zero, an
// image (template) that does not exist, a container image and a disk Paperspace cannot make: each refused,
// typed and clear, leaving nothing behind.
func TestPaperspaceErrors(t *testing.T) {
	t.Parallel()
	e := newPaperspaceEnv(t)
	fail := func(what string, wants []string, args ...string) string {
		t.Helper()
		return e.refused(t, what, wants, func(w string) { e.left(t, w) }, args...)
	}
	creates := func() int {
		n := 0
		for _, c := range e.ps.Calls() {
			if strings.HasPrefix(c, "create ") {
				n++
			}
		}
		return n
	}

	fail("type not offered in the region", []string{"A100"},
		"launch", "-y", "-c", "b1", "--infra", "paperspace/West Coast (CA1)", "--gpus", "A100-80GB", "echo hi")
	fail("image that does not exist", []string{"INFRA", "REASON", "Template tzzzzzzz not found"},
		"launch", "-y", "-c", "b2", "--infra", "paperspace", "--image-id", "tzzzzzzz", "task.yaml")
	fail("a container image", []string{"template id"},
		"launch", "-y", "-c", "b3", "--infra", "paperspace", "--image-id", "docker:ubuntu", "task.yaml")
	fail("a disk too large", []string{"disk_size 4000", "2000 GB"},
		"launch", "-y", "-c", "b4", "--infra", "paperspace", "--disk-size", "4000", "task.yaml")

	before := creates()
	e.ps.Fail("create", "", http.StatusBadRequest, "BAD_REQUEST", fakepaperspace.QuotaZero)
	fail("quota of zero", []string{"INFRA", "REASON", "limit of 0 machines"},
		"launch", "-y", "-c", "b5", "--infra", "paperspace", "task.yaml")
	if n := creates() - before; n != 1 {
		t.Errorf("a quota of zero: %d creates, want 1 (the limit is the account's: no other region is tried)", n)
	}
	e.ps.Heal()

	e.ps.SetAPIKeys("revoked")
	fail("rejected key", []string{"INFRA", "REASON", "UNAUTHORIZED", "stix check -v paperspace"},
		"launch", "-y", "-c", "b6", "--infra", "paperspace", "task.yaml")
	out, _ := e.stix("check", "-v", "paperspace")
	if !strings.Contains(out, "Paperspace: disabled") || !strings.Contains(out, "Invalid API key") {
		t.Errorf("check -v with a rejected key:\n%s", out)
	}
}

// TestPaperspaceAutostop: idle, the head stops its cluster's machines through Paperspace's API with the key the
// client gave it (status -r: STOPPED), and start brings them back with the job table. Autodown: the head deletes
// them, and status -r forgets the cluster and deletes its network.
func TestPaperspaceAutostop(t *testing.T) {
	t.Parallel()
	e := newPaperspaceEnv(t)
	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "pa1", "--infra", "paperspace", "--num-nodes", "2", "-i", "1", "echo ran")
	waitVMCluster(t, e.stix, "pa1", "STOPPED")
	for _, m := range e.ps.Machines() {
		if m.State != "off" {
			t.Errorf("machine %s is %s, want off", m.ID, m.State)
		}
	}
	if c := e.ps.Calls(); !slices.Contains(c, "stop East Coast (NY2)") {
		t.Errorf("calls %v: no stop", c)
	}
	e.env = append(e.env, "STIX_IDLE_UNIT=1h")
	e.must("start", "-y", "pa1")
	if out := e.must("queue", "pa1"); !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("queue after start:\n%s", out)
	}
	e.must("down", "-y", "pa1")

	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "pa2", "--infra", "paperspace", "--down", "echo ran too")
	waitVMCluster(t, e.stix, "pa2", "gone")
	e.left(t, "autodown")
}

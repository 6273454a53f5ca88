package stix_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/fakeazure"
	"github.com/stix-run/stix/internal/testutil/fakegce"
)

// azureEnv is a stix home reaching a fake Azure Resource Manager and token endpoint (STIX_AZURE_ENDPOINT,
// STIX_AZURE_AUTHORITY, over TLS trusted through SSL_CERT_FILE) with a service principal, and a catalog of
// Standard_D8s_v5 in eastus's three zones and, dearer, westus2's.
type azureEnv struct {
	t    testing.TB
	az   *fakeazure.Server
	work string
	env  []string
}

func newAzureEnv(t testing.TB) *azureEnv {
	t.Helper()
	e := &azureEnv{t: t, az: fakeazure.New(t), work: t.TempDir()}
	cat := filepath.Join(e.work, "catalog")
	var vms strings.Builder
	vms.WriteString("InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n")
	for i, r := range []string{"eastus", "westus2"} {
		for _, z := range []string{"1", "2", "3"} {
			fmt.Fprintf(&vms, "Standard_D8s_v5,8.0,32.0,,,,%s,%s-%s,%.3f,%.3f\n", r, r, z, 0.38+0.04*float64(i), 0.08+0.04*float64(i))
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
	write(filepath.Join(cat, "azure", "vms.csv"), vms.String())
	write(filepath.Join(e.work, "task.yaml"), "workdir: proj\n"+
		"run: echo \"rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(echo \"$SKYPILOT_NODE_IPS\" | tr '\\n' ,) data=$(cat data.txt)\"\n")
	write(filepath.Join(e.work, "proj", "data.txt"), "42\n")
	home := filepath.Join(e.work, "home")
	e.env = append([]string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + home,
		"STIX_HOME=" + filepath.Join(e.work, ".stix"), "STIX_AGENT_BIN=" + filepath.Join(binDir, "stix-agent"),
		"STIX_CATALOG_DIR=" + cat, "STIX_CATALOG_URL=http://127.0.0.1:1/catalogs", "NO_COLOR=1", "TMPDIR=" + os.TempDir(),
		"STIX_AZURE_SSH_USER=" + currentUserName(t),
	}, e.az.Env()...)
	t.Cleanup(func() { _, _ = e.stix("down", "-y", "--all") })
	return e
}

func (e *azureEnv) stix(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "stix"), args...)
	cmd.Env, cmd.Dir = e.env, e.work
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (e *azureEnv) must(args ...string) string {
	e.t.Helper()
	out, err := e.stix(args...)
	if err != nil {
		e.t.Fatalf("stix %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (e *azureEnv) nothingLeft(what string) {
	e.t.Helper()
	if live := e.az.Live(); len(live) != 0 {
		e.t.Errorf("%s left on Azure: %v", what, live)
	}
}

// TestAzureLaunch: `stix launch --infra azure` makes a resource group, vnet, NSG, public IPs, NICs and two VMs on
// the fake Resource Manager through the Azure SDK, connects over SSH with the key of the VMs' osProfile, deploys
// the agents and runs a 2-node task over the internal addresses; exec, logs, status -r, stop (deallocate) and
// start work; down deletes the resource group and everything in it.
func TestAzureLaunch(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	if out := e.must("check", "-v", "azure"); !strings.Contains(out, "Azure: enabled") {
		t.Errorf("check -v azure:\n%s", out)
	}
	out := e.must("launch", "-y", "-c", "a1", "--infra", "azure", "--num-nodes", "2", "--ports", "8080", "--disk-tier", "low", "task.yaml")
	for _, want := range []string{"rank 0 of 2 ips=10.231.", "rank 1 of 2 ips=10.231.", "data=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	vms := e.az.VMs()
	if len(vms) != 2 || vms[0].Region != "eastus" || vms[0].Zone != vms[1].Zone || vms[0].Size != "Standard_D8s_v5" ||
		vms[0].DiskType != "Standard_LRS" || vms[0].DiskGB != 256 || vms[0].Priority == "Spot" {
		t.Fatalf("VMs: %+v", vms)
	}
	if out := e.must("status", "--endpoint", "8080", "a1"); !strings.HasPrefix(out, "10.231.") || !strings.HasSuffix(strings.TrimSpace(out), ":8080") {
		t.Errorf("status --endpoint 8080: %q, want the head's address", out)
	}
	if out := e.must("exec", "a1", "echo exec on $SKYPILOT_NODE_RANK"); !strings.Contains(out, "exec on 0") {
		t.Errorf("exec:\n%s", out)
	}
	if out := e.must("logs", "a1", "1"); !strings.Contains(out, "data=42") {
		t.Errorf("logs a1 1:\n%s", out)
	}
	if out := e.must("status", "-r"); !strings.Contains(out, "a1") || !strings.Contains(out, "UP") {
		t.Errorf("status -r:\n%s", out)
	}
	e.must("stop", "-y", "a1")
	for _, v := range e.az.VMs() {
		if v.Power != "deallocated" || v.Host != nil {
			t.Errorf("after stop: VM %s is %s", v.Name, v.Power)
		}
	}
	if out := e.must("status", "-r"); !strings.Contains(out, "STOPPED") {
		t.Errorf("status -r after stop:\n%s", out)
	}
	e.must("start", "-y", "a1")
	if out := e.must("exec", "a1", "echo again on $SKYPILOT_NODE_RANK; cat data.txt"); !strings.Contains(out, "again on 0") {
		t.Errorf("exec after start:\n%s", out)
	}
	e.must("down", "-y", "a1")
	e.nothingLeft("down")
	if out := e.must("cost-report"); !strings.Contains(out, "a1") || !strings.Contains(out, "Standard_D8s_v5") {
		t.Errorf("cost-report lacks the Azure cluster:\n%s", out)
	}
}

// TestAzureFailover: AllocationFailed (the VM's operation fails, as Azure reports it) in every zone of the
// cheapest region sends the launch zone by zone, then to the next region, leaving nothing of the failed tries; a
// quota of zero there (QuotaExceeded) then rules Azure out with the table of what was tried.
func TestAzureFailover(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	e.az.Fail("vm", "eastus", "AllocationFailed", "Allocation failed. We do not have sufficient capacity for the "+
		"requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance")
	out := e.must("launch", "-y", "-c", "f1", "--infra", "azure", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") {
		t.Errorf("launch output:\n%s", out)
	}
	calls := e.az.Calls()
	if len(calls) != 4 || strings.Join(sorted(calls[:3]), " ") != "vm eastus/1 vm eastus/2 vm eastus/3" || !strings.HasPrefix(calls[3], "vm westus2/") {
		t.Errorf("VM creations %v, want eastus's three zones, then westus2\n%s", calls, out)
	}
	if live := e.az.Live(); len(live) != 8 { // group, vnet, nsg, identity, its role, and one VM, NIC and public IP
		t.Errorf("after failover: %v, want only the cluster's westus2 group", live)
	}
	e.must("down", "-y", "f1")
	e.nothingLeft("down")

	e.az.Fail("vm", "westus2", "QuotaExceeded", "Operation could not be completed as it results in exceeding approved "+
		"standardDSv5Family Cores quota. Location: westus2, Current Limit: 0, Current Usage: 0, Additional Required: 8.")
	out, err := e.stix("launch", "-y", "-c", "f2", "--infra", "azure", "task.yaml")
	if err == nil {
		t.Fatalf("launch with no capacity and no quota left succeeded:\n%s", out)
	}
	for _, want := range []string{"INFRA", "REASON", "AllocationFailed", "QuotaExceeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch output lacks %q:\n%s", want, out)
		}
	}
	e.nothingLeft("the failed launch")
}

// TestAzureBadInput: credentials the token endpoint rejects, a size the region does not offer (SkuNotAvailable),
// an image that does not exist (ImageNotFound), a managed identity a policy forbids, and a role without
// permission (AuthorizationFailed) each end the launch with a clear error and leave nothing on Azure.
func TestAzureBadInput(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	e.az.Sizes["eastus"] = nil
	for _, tc := range []struct {
		args   []string
		saying []string
	}{
		{[]string{"--infra", "azure/eastus"}, []string{"SkuNotAvailable", "Standard_D8s_v5"}},
		{[]string{"--infra", "azure/westus2", "--image-id", "Canonical:nothing:here:latest"}, []string{"ImageNotFound", "Canonical:nothing:here:latest"}},
		{[]string{"--infra", "azure/westus2", "--image-id", "ubuntu"}, []string{"image_id ubuntu"}},
		{[]string{"--infra", "azure/westus2", "--disk-tier", "ultra"}, []string{"disk_tier ultra"}},
	} {
		out, err := e.stix(append(append([]string{"launch", "-y", "-c", "bad"}, tc.args...), "task.yaml")...)
		for _, want := range tc.saying {
			if err == nil || !strings.Contains(out, want) {
				t.Errorf("stix launch %s: %v, want an error saying %q:\n%s", strings.Join(tc.args, " "), err, want, out)
			}
		}
		e.nothingLeft(strings.Join(tc.args, " "))
	}

	// The cluster's managed identity cannot be made (a policy forbids it): the launch fails before any VM, and
	// the group with the network goes.
	e.az.Fail("identity", "", "RequestDisallowedByPolicy", "Resource 'x-identity' was disallowed by policy.")
	out, err := e.stix("launch", "-y", "-c", "bad", "--infra", "azure/westus2", "task.yaml")
	if err == nil || !strings.Contains(out, "create managed identity") || !strings.Contains(out, "RequestDisallowedByPolicy") {
		t.Errorf("launch when the identity is refused: %v\n%s", err, out)
	}
	e.nothingLeft("a refused managed identity")

	e.az.Fail("group", "", "AuthorizationFailed", "The client '"+fakeazure.ClientID+"' with object id '"+fakeazure.ClientID+
		"' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourcegroups/write' over scope "+
		"'/subscriptions/"+fakeazure.Subscription+"/resourcegroups/x' or the scope is invalid.")
	out, err = e.stix("launch", "-y", "-c", "bad", "--infra", "azure", "task.yaml")
	if err == nil || !strings.Contains(out, "AuthorizationFailed") || !strings.Contains(out, "az account show") {
		t.Errorf("launch without permission: %v\n%s", err, out)
	}
	e.nothingLeft("AuthorizationFailed")

	e.az.RotateSecret()
	out, err = e.stix("launch", "-y", "-c", "bad", "--infra", "azure", "task.yaml")
	if err == nil || !strings.Contains(out, "invalid_client") || !strings.Contains(out, "AADSTS7000215") {
		t.Errorf("launch with a rotated secret: %v\n%s", err, out)
	}
	e.nothingLeft("the rejected credentials")
	if out, err := e.stix("check", "-v", "azure"); !strings.Contains(out, "invalid_client") {
		t.Errorf("check -v with a rotated secret: %v\n%s", err, out)
	}
}

// TestAzureSpotEvicted: a Spot cluster (priority Spot, eviction policy Delete) whose VM Azure evicts is seen by
// `status -r` as gone and dropped; its resource group goes with it.
func TestAzureSpotEvicted(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	e.must("launch", "-y", "-d", "-c", "s1", "--infra", "azure", "--use-spot", "sleep 600")
	vms := e.az.VMs()
	if len(vms) != 1 || vms[0].Priority != "Spot" || vms[0].EvictionPolicy != "Delete" || vms[0].DiskType != "Premium_LRS" {
		t.Fatalf("VMs: %+v", vms)
	}
	e.az.Evict(vms[0].Name)
	if out := e.must("status", "-r"); strings.Contains(out, "s1") {
		t.Errorf("status -r still lists the evicted cluster:\n%s", out)
	}
	e.nothingLeft("the evicted cluster")
}

// TestAzureResourceGroupConfig: with azure.resource_group_vm the cluster is made in that group (made when
// missing), and down deletes the cluster's resources in it, one by one, but not the group.
func TestAzureResourceGroupConfig(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	cfg := filepath.Join(e.work, "config.yaml")
	if err := os.WriteFile(cfg, []byte("azure:\n  resource_group_vm: shared-rg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.env = append(e.env, "STIX_CONFIG="+cfg)
	e.must("launch", "-y", "-c", "r1", "--infra", "azure", "--num-nodes", "2", "task.yaml")
	vms := e.az.VMs()
	if len(vms) != 2 || vms[0].Group != "shared-rg" {
		t.Fatalf("VMs: %+v", vms)
	}
	// A public IP an interrupted launch left, tagged with the cluster, goes too; another user's cluster of the
	// same name keeps its own.
	user := vms[0].Tags["stix-user"]
	e.az.Plant("shared-rg", "Microsoft.Network/publicIPAddresses", "leftover-ip", map[string]string{"stix-cluster": "r1", "stix-user": user})
	e.az.Plant("shared-rg", "Microsoft.Network/publicIPAddresses", "theirs-ip", map[string]string{"stix-cluster": "r1", "stix-user": "someone-else"})
	e.must("down", "-y", "r1")
	if live := e.az.Live(); strings.Join(live, " ") != "Microsoft.Network/publicIPAddresses theirs-ip group shared-rg" {
		t.Errorf("after down: %v, want only the configured group and the other user's IP", live)
	}
}

// TestAzureCLILogin: without a service principal stix takes the Azure CLI's login (`az account
// get-access-token`; a stand-in az here prints a token the fake issued) and the CLI's default subscription from
// azureProfile.json; a login whose refresh token expired is a clear credentials error, with nothing made.
func TestAzureCLILogin(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	var env []string
	for _, kv := range e.env {
		if !strings.HasPrefix(kv, "AZURE_") {
			env = append(env, kv)
		}
	}
	home := filepath.Join(e.work, "home")
	bin := filepath.Join(e.work, "azbin")
	expired := filepath.Join(e.work, "expired")
	for name, data := range map[string]string{
		filepath.Join(home, ".azure", "azureProfile.json"): "\ufeff" + `{"subscriptions": [{"id": "` + fakeazure.Subscription +
			`", "name": "Fake", "isDefault": true, "user": {"name": "dev@example.com"}}]}`,
		filepath.Join(home, ".azure", "msal_token_cache.json"): "{}",
		filepath.Join(bin, "az"): "#!/bin/sh\nif [ -e " + expired + " ]; then\n" +
			"  echo \"ERROR: AADSTS700082: The refresh token has expired due to inactivity. Interactive authentication is needed. Please run 'az login' to setup account.\" >&2\n  exit 1\nfi\n" +
			"echo '{\"accessToken\": \"" + e.az.IssueToken() + "\", \"expires_on\": 4102444800, \"subscription\": \"" + fakeazure.Subscription + "\", \"tokenType\": \"Bearer\"}'\n",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.env = append(env, "PATH="+bin+string(os.PathListSeparator)+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out := e.must("check", "-v", "azure"); !strings.Contains(out, "Azure: enabled") || !strings.Contains(out, "dev@example.com") {
		t.Errorf("check -v azure with az login:\n%s", out)
	}
	e.must("launch", "-y", "-c", "c1", "--infra", "azure", "task.yaml")
	e.must("down", "-y", "c1")
	e.nothingLeft("down")

	if err := os.WriteFile(expired, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.stix("launch", "-y", "-c", "c2", "--infra", "azure", "task.yaml")
	if err == nil || !strings.Contains(out, "AADSTS700082") || !strings.Contains(out, "az login") {
		t.Errorf("launch with an expired az login: %v\n%s", err, out)
	}
	e.nothingLeft("the expired login")
}

// TestAzureFailoverToGCP: a subscription with no quota in any Azure region (QuotaExceeded) sends the launch to
// the next cloud, a dearer GCP (its fake here), leaving nothing on Azure.
func TestAzureFailoverToGCP(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	gce := fakegce.New(t, "us-central1")
	cat := filepath.Join(e.work, "catalog", "gcp")
	var vms strings.Builder
	vms.WriteString("InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n")
	for _, z := range fakegce.Zones("us-central1") {
		fmt.Fprintf(&vms, "n2-standard-8,8.0,32.0,,,,us-central1,%s,0.900,0.300\n", z)
	}
	images := "Tag,Region,OS,OSVersion,ImageId,CreationDate,BaseImageId\nskypilot:custom-cpu-ubuntu-2204,,ubuntu,22.04," + fakegce.DefaultImage + ",20260101,\n"
	if err := os.MkdirAll(cat, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"vms.csv": vms.String(), "images.csv": images} {
		if err := os.WriteFile(filepath.Join(cat, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := gce.ServiceAccountKey(t, e.work, "stix@"+fakegce.Project+".iam.gserviceaccount.com")
	e.env = append(e.env, "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+gce.Endpoint, "GOOGLE_APPLICATION_CREDENTIALS="+key,
		"STIX_GCP_SSH_USER="+currentUserName(t))
	e.az.Fail("vm", "", "QuotaExceeded", "Operation could not be completed as it results in exceeding approved "+
		"standardDSv5Family Cores quota. Current Limit: 0, Current Usage: 0, Additional Required: 8.")
	out := e.must("launch", "-y", "-c", "x1", "--cpus", "8", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") || !strings.Contains(out, "QuotaExceeded") {
		t.Errorf("launch output:\n%s", out)
	}
	if calls := e.az.Calls(); len(calls) != 2 || !strings.HasPrefix(calls[0], "vm eastus/") || !strings.HasPrefix(calls[1], "vm westus2/") {
		t.Errorf("Azure VM creations %v, want one in eastus, then one in westus2", calls)
	}
	if insts := gce.Instances(); len(insts) != 1 {
		t.Errorf("GCP instances: %+v", insts)
	}
	e.nothingLeft("the Azure tries")
	e.must("down", "-y", "x1")
}

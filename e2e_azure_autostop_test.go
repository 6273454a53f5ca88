package stix_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAzureAutostop: every VM carries the cluster's managed identity; idle, the head gets a token for it from the
// instance metadata service and deallocates the VMs through Resource Manager (status -r: STOPPED); start brings
// the cluster back with its job table. Autodown: the head deletes the cluster's resource group, and status -r
// forgets the cluster, with nothing left on Azure.
func TestAzureAutostop(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "za1", "--infra", "azure", "--num-nodes", "2", "-i", "1", "echo ran")
	ids := e.az.Identities()
	for _, v := range e.az.VMs() {
		if len(ids[v.Name]) != 1 || !strings.HasSuffix(ids[v.Name][0], "-identity") {
			t.Errorf("VM %s has identities %v, want the cluster's", v.Name, ids[v.Name])
		}
	}
	waitVMCluster(t, e.stix, "za1", "STOPPED")
	for _, v := range e.az.VMs() {
		if v.Power != "deallocated" || v.Host != nil {
			t.Errorf("VM %s after autostop: %s, want deallocated", v.Name, v.Power)
		}
	}
	e.env = append(e.env, "STIX_IDLE_UNIT=1h")
	e.must("start", "-y", "za1")
	if out := e.must("queue", "za1"); !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("queue after start:\n%s", out)
	}
	e.must("down", "-y", "za1")
	e.nothingLeft("down after autostop")

	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "za2", "--infra", "azure", "-i", "1", "--down", "echo ran too")
	waitGone(t, "the resource group", func() int { return len(e.az.Live()) })
	if st, err := clusterStatus(e.stix, "za2"); err != nil || st != "gone" {
		t.Errorf("status -r after autodown: %s, %v; want the cluster gone", st, err)
	}
	e.nothingLeft("autodown")
}

// TestAzureAutodownSharedGroup: in the group azure.resource_group_vm names, the identity's role is scoped to that
// group; autodown deletes the cluster's VMs from the head, and status -r deletes the rest (interfaces, addresses,
// network, identity and its role assignment), keeping the group.
func TestAzureAutodownSharedGroup(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	cfg := filepath.Join(e.work, "config.yaml")
	if err := os.WriteFile(cfg, []byte("azure:\n  resource_group_vm: shared-rg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.env = append(e.env, "STIX_CONFIG="+cfg, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "zs1", "--infra", "azure", "--num-nodes", "2", "-i", "1", "--down", "echo ran")
	waitGone(t, "the VMs", func() int { return len(e.az.VMs()) })
	if st, err := clusterStatus(e.stix, "zs1"); err != nil || st != "gone" {
		t.Errorf("status -r after autodown: %s, %v; want the cluster gone", st, err)
	}
	if live := e.az.Live(); strings.Join(live, " ") != "group shared-rg" {
		t.Errorf("after autodown: %v, want only the configured group", live)
	}
}

// TestAzureIdentityRefused: a user who may not create role assignments cannot give the cluster's identity its
// role: the launch fails saying so, typed as a credentials problem, and leaves nothing behind, in a group of its
// own or a shared one.
func TestAzureIdentityRefused(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	e.az.Fail("role", "", "AuthorizationFailed", "The client '"+"22222222-2222-2222-2222-222222222222"+"' with object id "+
		"'22222222-2222-2222-2222-222222222222' does not have authorization to perform action "+
		"'Microsoft.Authorization/roleAssignments/write' over scope '/subscriptions/x/resourceGroups/y' or the scope is invalid.")
	out, err := e.stix("launch", "-y", "-c", "zr1", "--infra", "azure", "echo never")
	if err == nil || !strings.Contains(out, "Contributor role") || !strings.Contains(out, "roleAssignments/write") {
		t.Errorf("launch without the right to assign roles: err %v, want the role assignment's refusal:\n%s", err, out)
	}
	e.nothingLeft("a refused role assignment")
	if len(e.az.Calls()) != 0 {
		t.Errorf("VMs were asked for: %v", e.az.Calls())
	}

	cfg := filepath.Join(e.work, "config.yaml")
	if err := os.WriteFile(cfg, []byte("azure:\n  resource_group_vm: shared-rg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.env = append(e.env, "STIX_CONFIG="+cfg)
	if out, err := e.stix("launch", "-y", "-c", "zr2", "--infra", "azure", "echo never"); err == nil {
		t.Errorf("launch in a shared group without the right to assign roles succeeded:\n%s", out)
	}
	if live := e.az.Live(); strings.Join(live, " ") != "group shared-rg" {
		t.Errorf("after the refused launch in a shared group: %v, want only the group", live)
	}
}

// TestAzureAutostopWithoutRole: the identity's token acts only where its role assignment allows: with the
// assignment revoked, the head's deallocate calls are refused and the VMs keep running.
func TestAzureAutostopWithoutRole(t *testing.T) {
	t.Parallel()
	e := newAzureEnv(t)
	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "zn1", "--infra", "azure", "echo ran")
	e.az.RevokeRoles()
	e.must("autostop", "-y", "-i", "1", "zn1")
	if err := pollFunc("the head's deallocate to be refused", func() (bool, error) { return len(e.az.Refused()) > 0, nil }); err != nil {
		t.Fatal(err)
	}
	if got := e.az.Refused(); !strings.HasSuffix(got[0], "/deallocate") {
		t.Errorf("refused calls: %v, want the deallocate", got)
	}
	for _, v := range e.az.VMs() {
		if v.Power != "running" {
			t.Errorf("VM %s is %s, want it still running", v.Name, v.Power)
		}
	}
}

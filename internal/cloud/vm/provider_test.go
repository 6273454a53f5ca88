package vm

import (
	"path/filepath"
	"testing"
)

func TestOptionsMachines(t *testing.T) {
	if _, err := (&Options{}).Machines("aws", "AWS", "STIX_VMTEST_SSH_USER", "ubuntu"); err == nil ||
		err.Error() != "aws provider: no stix home directory" {
		t.Fatalf("Machines without a home = %v", err)
	}
	home := t.TempDir()
	t.Setenv("STIX_VMTEST_SSH_USER", "")
	o := Options{Home: home}
	m, err := o.Machines("aws", "AWS", "STIX_VMTEST_SSH_USER", "ubuntu")
	if err != nil || m.Cloud != "aws" || m.Root != filepath.Join(home, "aws") || m.User != "ubuntu" ||
		o.SSHUser != "ubuntu" || o.AgentBinary == nil || o.Catalog == nil {
		t.Fatalf("Machines = %+v, %v; options %+v", m, err, o)
	}
	t.Setenv("STIX_VMTEST_SSH_USER", "ec2-user")
	if m, _ := (&Options{Home: home}).Machines("aws", "AWS", "STIX_VMTEST_SSH_USER", "ubuntu"); m.User != "ec2-user" {
		t.Fatalf("user from the environment = %q", m.User)
	}
	if _, err := CatalogOffers("gcp"); err == nil || err.Error() != "gcp offers come from the catalog (gcp/vms.csv)" {
		t.Fatalf("CatalogOffers = %v", err)
	}
}

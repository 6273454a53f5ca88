package stix_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/fakedo"
)

// TestFailoverDOToNebius: with DigitalOcean and Nebius both enabled, the cheapest offer is DigitalOcean's; its
// real "Size is not available in this region." in each region rules DigitalOcean out region by region, and the
// launch lands on Nebius, leaving nothing on DigitalOcean.
func TestFailoverDOToNebius(t *testing.T) {
	t.Parallel()
	e := newNebiusEnv(t)
	do := fakedo.New(t, fakedo.Size{Slug: "s-4vcpu-8gb", VCPUs: 4, Memory: 8192, Price: 0.07143, Regions: []string{"nyc1", "sfo3"}})
	vms, err := os.ReadFile(filepath.Join("internal", "cloud", "do", "testdata", "vms.csv"))
	if err != nil {
		t.Fatal(err)
	}
	cat := filepath.Join(e.work, "catalog", "do")
	if err := os.MkdirAll(cat, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cat, "vms.csv"), vms, 0o644); err != nil {
		t.Fatal(err)
	}
	e.env = append(e.env, "STIX_DO_ENDPOINT="+do.URL, "DIGITALOCEAN_ACCESS_TOKEN="+fakedo.Token,
		"STIX_DO_SSH_USER="+currentUserName(t))
	do.Fail("create", "", http.StatusUnprocessableEntity, "unprocessable_entity", fakedo.SizeUnavailable)

	out := e.must("launch", "-y", "-c", "x1", "task.yaml")
	if !strings.Contains(out, "rank 0 of 1") || !strings.Contains(out, fakedo.SizeUnavailable) {
		t.Errorf("launch output:\n%s", out)
	}
	var creates []string
	for _, c := range do.Calls() {
		if r, ok := strings.CutPrefix(c, "create "); ok {
			creates = append(creates, r)
		}
	}
	if strings.Join(creates, ",") != "nyc1,sfo3" {
		t.Errorf("DigitalOcean creates in %v, want nyc1 then sfo3", creates)
	}
	if droplets, firewalls, _ := do.Live(); droplets != 0 || firewalls != 0 {
		t.Errorf("left on DigitalOcean: %d droplets, %d firewalls", droplets, firewalls)
	}
	if ins := e.nb.Instances(); len(ins) != 1 || ins[0].Region != "eu-north1" {
		t.Errorf("Nebius instances: %+v, want one in eu-north1", ins)
	}
	e.must("down", "-y", "x1")
	e.left(t, "down")
}

package services

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cloud/sshpool"
	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// TestSSHPoolReplicas: a service whose replicas land on an SSH node pool of two real sshd hosts, each in its
// own network namespace with its own address: each replica is reached at its host's address, and traffic
// through the load balancer reaches both hosts.
func TestSSHPoolReplicas(t *testing.T) {
	home := t.TempDir()
	var pools strings.Builder
	pools.WriteString("lab:\n  hosts:\n")
	var hosts []string
	for range 2 {
		h := sshhost.StartInNetns(t)
		hosts = append(hosts, h.Host)
		fmt.Fprintf(&pools, "    - ip: %s\n      port: %d\n      user: %s\n      identity_file: %s\n", h.Host, h.Port, h.User, h.UserKey)
	}
	if err := os.WriteFile(filepath.Join(home, sshpool.FileName), []byte(pools.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newWorldOn(t, home, nil, []string{"ssh"})
	ctx := context.Background()
	if _, err := api.Wait(w.core.SSHUp(ctx, api.SSHPoolRequest{Pool: "lab"})); err != nil {
		t.Fatalf("ssh up: %v", err)
	}
	t.Cleanup(func() { _, _ = api.Wait(w.core.SSHDown(context.Background(), api.SSHPoolRequest{Pool: "lab"})) })
	dir := t.TempDir() // the hosts share this machine's filesystem
	yaml := strings.Replace(webService(dir, 2), "resources:\n", "resources:\n  infra: ssh/lab\n", 1)
	res, err := api.Wait(w.ctl.ServeUp(ctx, api.ServeUpRequest{Task: api.TaskSpec{FileName: "web.yaml", YAML: yaml}}))
	if err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, w, "web", "READY with 2 ready replicas", func(s api.Service) bool { return len(readyReplicas(s)) == 2 })
	at := map[string]bool{}
	for _, r := range s.Replicas {
		for _, h := range hosts {
			if r.Endpoint == "http://"+h+":8080" {
				at[h] = true
			}
		}
		if !strings.HasPrefix(r.Infra, "SSH") {
			t.Errorf("replica %+v: not on the pool", r)
		}
	}
	if len(at) != 2 {
		t.Fatalf("replicas %+v: want one at each host's address %v", s.Replicas, hosts)
	}
	seen := map[int]bool{}
	for range 20 {
		seen[get(t, res.Endpoint)] = true
	}
	if len(seen) != 2 {
		t.Fatalf("replicas that answered through the load balancer: %v, want both", seen)
	}
	if _, err := api.Wait(w.ctl.ServeDown(ctx, api.ServeDownRequest{Names: []string{"web"}})); err != nil {
		t.Fatal(err)
	}
	if cs, _ := w.core.Status(ctx, nil, false); len(cs) != 0 {
		t.Fatalf("clusters after down: %+v", cs)
	}
}

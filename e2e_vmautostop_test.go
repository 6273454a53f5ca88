package stix_test

import (
	"fmt"
	"strings"
	"testing"
)

// Autostop on VM clouds, with no cloud credentials on the head: the agents power their VMs off (the netns hosts'
// shutdown shim), and the fake cloud stops or terminates them as the real one would.

// clusterStatus is the cluster's STATUS in `status -r`'s table, "gone" when it is not listed.
func clusterStatus(stix func(...string) (string, error), name string) (string, error) {
	out, err := stix("status", "-r")
	if err != nil {
		return "", fmt.Errorf("status -r: %v: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) > 1 && f[0] == name {
			for _, w := range f {
				if w == "UP" || w == "STOPPED" || w == "INIT" {
					return w, nil
				}
			}
		}
	}
	return "gone", nil
}

func waitVMCluster(t *testing.T, stix func(...string) (string, error), name, want string) {
	t.Helper()
	var got string
	err := pollFunc(fmt.Sprintf("cluster %s %s", name, want), func() (bool, error) {
		var err error
		got, err = clusterStatus(stix, name)
		return got == want, err
	})
	if err != nil {
		t.Fatalf("%v; last status %s", err, got)
	}
}

// TestGCPAutostop: idle, the nodes power their VMs off and Compute Engine stops them (status -r: STOPPED);
// start brings the cluster back with its job table. Autodown: the VMs power off, and the next status -r deletes
// them and the firewall rule and forgets the cluster.
func TestGCPAutostop(t *testing.T) {
	t.Parallel()
	e := newGCPEnv(t)
	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "ga1", "--infra", "gcp", "--num-nodes", "2", "-i", "1", "echo ran on $SKYPILOT_NODE_RANK")
	waitVMCluster(t, e.stix, "ga1", "STOPPED")
	for _, in := range e.gce.Instances() {
		if in.Status != "TERMINATED" {
			t.Errorf("instance %s is %s, want TERMINATED (stopped)", in.Name, in.Status)
		}
	}
	e.env = append(e.env, "STIX_IDLE_UNIT=1h") // the restarted agents: nothing below depends on speed
	e.must("start", "-y", "ga1")
	if out := e.must("queue", "ga1"); !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("queue after start:\n%s", out)
	}
	e.must("down", "-y", "ga1")

	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "ga2", "--infra", "gcp", "--down", "echo ran too")
	waitVMCluster(t, e.stix, "ga2", "gone")
	if n, fws := e.gce.Live(); n != 0 || fws != 0 {
		t.Errorf("after autodown: %d instances, %d firewall rules left", n, fws)
	}

	// The user's own `stix stop` of a cluster set to autodown is a stop: `status -r` keeps it STOPPED, with its
	// disks, and does not read it as an autodown.
	e.env = append(e.env, "STIX_IDLE_UNIT=1h")
	e.must("launch", "-y", "-d", "-c", "ga3", "--infra", "gcp", "-i", "5", "--down", "echo ran")
	e.must("stop", "-y", "ga3")
	if st, err := clusterStatus(e.stix, "ga3"); err != nil || st != "STOPPED" {
		t.Errorf("status -r after the user's stop of an autodown cluster: %s, %v; want STOPPED", st, err)
	}
	if n, _ := e.gce.Live(); n != 1 {
		t.Errorf("instances after the user's stop: %d, want the stopped one kept", n)
	}
	e.must("down", "-y", "ga3")
}

// TestAWSAutostop: the instances are launched to stop on a guest power-off, so idle nodes powering off leave the
// cluster STOPPED; autodown sets them to terminate (ModifyInstanceAttribute), and the cluster is gone with its
// security group.
func TestAWSAutostop(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t)
	e.env = append(e.env, "STIX_IDLE_UNIT=100ms")
	e.must("launch", "-y", "-d", "-c", "aa1", "--infra", "aws", "-i", "1", "echo ran")
	waitVMCluster(t, e.stix, "aa1", "STOPPED")
	if insts := e.ec2.Instances(); len(insts) != 1 || insts[0].State != "stopped" || insts[0].ShutdownBehavior != "stop" {
		t.Errorf("instances: %+v", insts)
	}
	e.must("down", "-y", "aa1")

	e.must("launch", "-y", "-d", "-c", "aa2", "--infra", "aws", "--down", "echo ran too")
	waitVMCluster(t, e.stix, "aa2", "gone")
	if n, g, _ := e.ec2.Live(); n != 0 || g != 0 {
		t.Errorf("after autodown: %d instances, %d security groups left", n, g)
	}
	var modified bool
	for _, c := range e.ec2.Calls() {
		modified = modified || strings.HasPrefix(c, "ModifyInstanceAttribute")
	}
	if !modified {
		t.Error("autodown did not set the instances to terminate on shutdown")
	}
}

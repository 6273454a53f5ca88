package sshhost

import (
	"os/exec"
	"strings"
	"testing"
)

// The server accepts the user key with the OpenSSH client and logs the login.
func TestStartAcceptsUserKey(t *testing.T) {
	h := Start(t)
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatalf("the ssh client is missing: install openssh-client: %v", err)
	}
	out, err := exec.Command("ssh", append(h.SSHArgs(), "echo", "hello")...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("ssh: %v: %q", err, out)
	}
	if n := h.Logins(); n != 1 {
		t.Errorf("Logins() = %d, want 1", n)
	}
}

// Hosts in network namespaces have their own addresses and reach each other over the bridge.
func TestStartInNetns(t *testing.T) {
	a, b := StartInNetns(t), StartInNetns(t)
	if a.Host == b.Host || !strings.HasPrefix(a.Host, "10.231.") {
		t.Fatalf("addresses %s and %s", a.Host, b.Host)
	}
	out, err := exec.Command("ssh", append(a.SSHArgs(), "cat /proc/net/fib_trie | grep -c "+a.Host+"; exec 3<>/dev/tcp/"+b.Host+"/22 && echo reached")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reached") {
		t.Fatalf("from %s to %s: %v\n%s", a.Host, b.Host, err, out)
	}
}

// A host's shutdown is a shim, in its mount namespace only: PoweredOff sees the call, the machine is untouched.
func TestShutdownIsAShim(t *testing.T) {
	h := StartInNetns(t)
	if h.PoweredOff() {
		t.Fatal("powered off before anything ran")
	}
	for _, cmd := range []string{"shutdown -h now", "/usr/sbin/shutdown -h now", "/sbin/poweroff"} {
		out, err := exec.Command("ssh", append(h.SSHArgs(), cmd)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
	}
	if !h.PoweredOff() {
		t.Error("the shim did not record the power-off")
	}
}

// Test processes running side by side never share a subnet, even when their pids pick the same start: a second
// claim from the same start (as another process's would be) gets another /24, and a released one is free again.
func TestSubnetsAreClaimedOnce(t *testing.T) {
	a, releaseA, err := claimSubnet(7)
	if err != nil {
		t.Fatal(err)
	}
	b, releaseB, err := claimSubnet(7)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseB()
	if a == b {
		t.Fatalf("two claims from the same start both got 10.231.%d", a)
	}
	releaseA()
	c, releaseC, err := claimSubnet(a - 1)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseC()
	if c != a {
		t.Errorf("after its release, a claim starting at 10.231.%d got 10.231.%d", a, c)
	}
}

package sshhost

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The network of hosts in network namespaces: one bridge per test process on its own /24, claimed so that test
// binaries running side by side never share one (claimSubnet), one namespace and veth pair per host.
var netnsNet struct {
	mu      sync.Mutex
	bridge  string
	subnet  string // "10.231.N"
	num     int    // N: names this process's bridge, namespaces and veths
	release func() // gives the subnet back
	hosts   int    // hosts made so far (their addresses are .2, .3, ...)
	live    int    // hosts not cleaned up yet: the bridge goes with the last
}

// StartInNetns runs an sshd host in a network namespace of its own, with its own address on a bridge the
// harness creates (TESTING-INFRA.md, section 2): a machine as the network sees it, reached from here over the
// bridge. Processes started through it (the stix agent) live in that namespace too. It needs root and iproute2.
func StartInNetns(t testing.TB) *Host {
	t.Helper()
	return StartInNetnsWithHome(t, "")
}

// StartInNetnsWithHome is StartInNetns showing home (a directory the test made) as the user's home directory:
// hosts given the same home share it, as machines with NFS home directories do. Empty home is StartInNetns.
func StartInNetnsWithHome(t testing.TB, home string) *Host {
	t.Helper()
	ns, ip := addNetns(t)
	h := start(t, ip, 22, []string{"nsenter", "--net=/run/netns/" + ns}, home, true)
	h.Netns = ns
	return h
}

// BridgeIP is this machine's address on the bridge of the netns hosts ("10.231.N.1"), made now if no host made it
// yet and kept until the test ends: where a server the hosts must reach listens (a fake cloud API that the
// agents on its "instances" call), as a cloud's API is reached from its VMs. It needs root and iproute2.
func BridgeIP(t testing.TB) string {
	t.Helper()
	n := &netnsNet
	n.mu.Lock()
	defer n.mu.Unlock()
	ensureBridge(t)
	n.live++
	t.Cleanup(func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		releaseBridge()
	})
	return n.subnet + ".1"
}

// ensureBridge makes the bridge if there is none; netnsNet.mu is held.
func ensureBridge(t testing.TB) {
	t.Helper()
	n := &netnsNet
	if n.bridge == "" {
		num, release, err := claimSubnet(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		n.num, n.release = num, release
		n.bridge = fmt.Sprintf("stxbr%d", num)
		n.subnet = fmt.Sprintf("10.231.%d", num)
		// A bridge of this name is a killed process's (its claim ended with it): gone before this one is made.
		_ = iptables("-D", "FORWARD", "-i", n.bridge, "-o", n.bridge, "-j", "ACCEPT")
		_ = ipCmd("link", "del", n.bridge)
		if err := ipCmd("link", "add", n.bridge, "type", "bridge"); err != nil {
			t.Fatalf("sshhost: create bridge (needs root and iproute2): %v", err)
		}
		if err := ipCmd("addr", "add", n.subnet+".1/24", "dev", n.bridge); err != nil {
			t.Fatal(err)
		}
		if err := ipCmd("link", "set", n.bridge, "up"); err != nil {
			t.Fatal(err)
		}
		// Where Docker runs, bridged frames pass iptables' FORWARD chain, whose policy Docker sets to DROP:
		// let the hosts on this bridge talk to each other.
		if err := iptables("-I", "FORWARD", "-i", n.bridge, "-o", n.bridge, "-j", "ACCEPT"); err != nil {
			t.Fatal(err)
		}
	}
}

// releaseBridge drops a user of the bridge, deleting it with the last; netnsNet.mu is held.
func releaseBridge() {
	n := &netnsNet
	if n.live--; n.live == 0 {
		_ = iptables("-D", "FORWARD", "-i", n.bridge, "-o", n.bridge, "-j", "ACCEPT")
		_ = ipCmd("link", "del", n.bridge)
		n.bridge = ""
		n.release()
	}
}

// claimSubnet claims a /24 of 10.231.1–250 for this process, trying from start (mod 250) on: a subnet is free
// when no other claim holds its lock file (flock, so that a killed process's claim ends with it). Two bridges on
// one subnet would route the hosts' addresses to one of them, and the other process's sshd would not be
// reached. release gives the subnet back.
func claimSubnet(start int) (num int, release func(), err error) {
	for i := range 250 {
		num := (start+i)%250 + 1
		f, err := os.OpenFile(fmt.Sprintf("/tmp/stix-sshhost-10.231.%d.lock", num), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return 0, nil, fmt.Errorf("sshhost: claim a subnet: %w", err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		return num, func() { f.Close() }, nil
	}
	return 0, nil, fmt.Errorf("sshhost: every subnet of 10.231.1-250.0/24 is claimed by another test process")
}

func addNetns(t testing.TB) (ns, ip string) {
	t.Helper()
	n := &netnsNet
	n.mu.Lock()
	defer n.mu.Unlock()
	ensureBridge(t)
	n.hosts++
	n.live++
	ns = fmt.Sprintf("stx%dh%d", n.num, n.hosts)
	veth := fmt.Sprintf("v%dh%d", n.num, n.hosts)
	ip = fmt.Sprintf("%s.%d", n.subnet, n.hosts+1)
	_ = ipCmd("netns", "del", ns) // a killed process's, of the same subnet
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", n.bridge},
		{"link", "set", veth, "up"},
		{"-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatalf("sshhost: network namespace %s: %v", ns, err)
		}
	}
	t.Cleanup(func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		_ = ipCmd("netns", "del", ns) // deleting the namespace deletes its veth pair
		releaseBridge()
	})
	return ns, ip
}

// KillAll kills every process in the host's network namespace (sshd and what was started through it): the
// machine powered off. Hosts not in a namespace only have their sshd stopped.
func (h *Host) KillAll() {
	h.Stop()
	if h.Netns == "" {
		return
	}
	out, err := exec.Command("ip", "netns", "pids", h.Netns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// iptables changes a rule when iptables is installed; without it there is no FORWARD chain in the way.
func iptables(args ...string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	out, err := exec.Command("iptables", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewServer starts an HTTP test server on BridgeIP, reached from this machine and from the netns hosts alike;
// the caller closes it.
func NewServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(BridgeIP(t), "0"))
	if err != nil {
		t.Fatalf("sshhost: listen on the bridge: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return srv
}

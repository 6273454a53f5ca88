package stix_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// sshHosts are the pool's hosts, in pool order, for commands that act on one of them.
var sshHosts []*sshhost.Host

// sshhoststop N stops the sshd of the pool's host N (from 0): a machine that stopped answering.
func sshHostStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sshhoststop N")
	}
	i, err := strconv.Atoi(args[0])
	if err != nil || i < 0 || i >= len(sshHosts) {
		ts.Fatalf("sshhoststop: no host %q", args[0])
	}
	sshHosts[i].Stop()
}

// sshPoolYAML starts the sshd hosts the ssh scripts use, each in its own network namespace with its own address
// and home, and returns an ssh_node_pools.yaml naming them as pool "lab". The hosts live as long as the test.
func sshPoolYAML(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("lab:\n  hosts:\n")
	for range n {
		h := sshhost.StartInNetns(t)
		sshHosts = append(sshHosts, h)
		fmt.Fprintf(&b, "    - ip: %s\n      port: %d\n      user: %s\n      identity_file: %s\n", h.Host, h.Port, h.User, h.UserKey)
	}
	return b.String()
}

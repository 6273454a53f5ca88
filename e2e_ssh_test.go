package stix_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// sshPoolYAML starts the sshd hosts the ssh scripts use, each in its own network namespace with its own address
// and home, and returns an ssh_node_pools.yaml naming them as pool "lab". The hosts live as long as the test.
func sshPoolYAML(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("lab:\n  hosts:\n")
	for range n {
		h := sshhost.StartInNetns(t)
		fmt.Fprintf(&b, "    - ip: %s\n      port: %d\n      user: %s\n      identity_file: %s\n", h.Host, h.Port, h.User, h.UserKey)
	}
	return b.String()
}

package stix_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/sshhost"
)

// sshPoolYAML starts the sshd hosts the ssh scripts use, each on its own loopback address with its own home,
// and returns an ssh_node_pools.yaml naming them as pool "lab". The hosts live as long as the test.
func sshPoolYAML(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("lab:\n  hosts:\n")
	for i := range n {
		h := sshhost.StartAt(t, fmt.Sprintf("127.0.0.%d", 20+i))
		fmt.Fprintf(&b, "    - ip: %s\n      port: %d\n      user: %s\n      identity_file: %s\n", h.Host, h.Port, h.User, h.UserKey)
	}
	return b.String()
}

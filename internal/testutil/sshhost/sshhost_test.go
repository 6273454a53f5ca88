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

package sshpool

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/config"
)

// TestSSHTimeoutFromConfig: provision.ssh_timeout in the request's config bounds the SSH connection setup,
// over the provider's own timeout. The host accepts TCP and never speaks SSH.
func TestSSHTimeoutFromConfig(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	root := t.TempDir()
	p, err := New(ProviderOptions{Root: filepath.Join(root, "ssh"), PoolsFile: filepath.Join(root, FileName), Home: root,
		ConnectTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Inputs{CLI: []string{"provision.ssh_timeout=1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := config.NewContext(testContext(t), cfg)
	addr := ln.Addr().(*net.TCPAddr)
	_, err = p.dial(ctx, "pool", Host{Name: "silent", Address: "127.0.0.1", Port: addr.Port, User: "nobody"}, filepath.Join(root, "known_hosts"))
	// Past the 1s deadline the handshake read times out (or the dial's own timer fires first).
	if err == nil || !strings.Contains(err.Error(), "i/o timeout") && !strings.Contains(err.Error(), "within 1s") {
		t.Fatalf("dial = %v, want the handshake to time out after provision.ssh_timeout (1s)", err)
	}
}

package sshpool

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sshConfig = `
# a comment
Host gpu-box
    HostName 10.0.0.7
    Port 2222
    User alice
    IdentityFile ~/.ssh/gpu_key
Host *.lab !bastion.lab
    User labuser
    ProxyJump bastion.lab
Host *
    IdentityFile ~/.ssh/id_ed25519
`

func TestParseResolvesEveryForm(t *testing.T) {
	t.Parallel()
	pools, err := Parse("pools.yaml", []byte(`
my-cluster:
  user: ubuntu
  identity_file: ~/.ssh/cluster_key
  hosts:
    - 1.2.3.4
    - ip: 1.2.3.5
      port: 2200
      user: root
my-box:
  hosts:
    - gpu-box
    - node1.lab
`), ParseSSHConfig([]byte(sshConfig)), Options{Home: "/home/me", DefaultUser: "me"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Pool{
		{Name: "my-cluster", Hosts: []Host{
			{Name: "1.2.3.4", Address: "1.2.3.4", Port: 22, User: "ubuntu", IdentityFiles: []string{"/home/me/.ssh/cluster_key"}},
			{Name: "1.2.3.5", Address: "1.2.3.5", Port: 2200, User: "root", IdentityFiles: []string{"/home/me/.ssh/cluster_key"}},
		}},
		{Name: "my-box", Hosts: []Host{
			{Name: "gpu-box", Address: "10.0.0.7", Port: 2222, User: "alice", IdentityFiles: []string{"/home/me/.ssh/gpu_key", "/home/me/.ssh/id_ed25519"}},
			{Name: "node1.lab", Address: "node1.lab", Port: 22, User: "labuser", IdentityFiles: []string{"/home/me/.ssh/id_ed25519"}, ProxyJump: "bastion.lab"},
		}},
	}
	if !reflect.DeepEqual(pools, want) {
		t.Errorf("got  %+v\nwant %+v", pools, want)
	}
	if _, err := Find(pools, "my-box"); err != nil {
		t.Error(err)
	}
	if _, err := Find(pools, "nope"); err == nil || !strings.Contains(err.Error(), "my-box, my-cluster") {
		t.Errorf("unknown pool: %v", err)
	}
}

func TestBadPoolsFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, want string }{
		{"missing hosts", "p:\n  user: x\n", "pools.yaml:2:3: pool \"p\": missing `hosts`"},
		{"unknown key", "p:\n  hosts: [1.2.3.4]\n  usr: x\n", "pools.yaml:3:3: unknown key \"usr\""},
		{"host without ip", "p:\n  hosts:\n    - user: x\n", "pools.yaml:3:7: pool \"p\": host without `ip`"},
		{"bad port", "p:\n  hosts:\n    - ip: 1.2.3.4\n      port: 99999\n", "pools.yaml:4:13: port: expected 1-65535"},
		{"password", "p:\n  password: secret\n  hosts: [1.2.3.4]\n", "password authentication is not supported"},
		{"not a mapping", "- a\n", "expected a mapping of pool names"},
		{"empty", "", "no node pools"},
		{"bad yaml", "p: [\n", "invalid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("pools.yaml", []byte(tc.yaml), nil, Options{DefaultUser: "me"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadReadsSSHConfigFromHome(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(sshConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), FileName)
	if _, err := Load(file, Options{Home: home}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(file, []byte("box:\n  hosts: [gpu-box]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pools, err := Load(file, Options{Home: home})
	if err != nil || pools[0].Hosts[0].Address != "10.0.0.7" || pools[0].Hosts[0].Port != 2222 {
		t.Errorf("got %+v, %v", pools, err)
	}
}

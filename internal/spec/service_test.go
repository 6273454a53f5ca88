package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/agent/agenttls"
)

// TestTLSCheckFiles: a missing or mismatched TLS file is reported where the YAML names it, once the service is used.
func TestTLSCheckFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := agenttls.NewCA("svc")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.Issue("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, other := write("cert.pem", certPEM), write("key.pem", keyPEM), write("other.pem", otherKey)
	missing := filepath.Join(dir, "nope.pem")

	tests := []struct {
		name, key, cert string
		want            string // "" = valid
	}{
		{"valid pair", key, cert, ""},
		{"missing keyfile", missing, cert, "task.yaml:4:14: service.tls.keyfile: cannot read keyfile"},
		{"missing certfile", key, missing, "task.yaml:5:15: service.tls.certfile: cannot read certfile"},
		{"key of another certificate", other, cert, "task.yaml:5:15: service.tls: certfile and keyfile are not a usable pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task := mustTask(t, "service:\n  readiness_probe: /\n  tls:\n    keyfile: "+tt.key+"\n    certfile: "+tt.cert+"\nrun: x\n")
			err := task.Service.TLS.CheckFiles()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckFiles: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("CheckFiles = %v, want %q", err, tt.want)
			}
			var list ErrorList
			if tt.want != "" && !errors.As(err, &list) {
				t.Errorf("CheckFiles error is %T, want an ErrorList", err)
			}
		})
	}
}

// TestServiceOf: SkyServe's checks of a task about to be served, and the replica port.
func TestServiceOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		port      int
		err       string
	}{
		{"plain task", "run: x\nresources:\n  ports: 8080\n", 0, "app.yaml: this file has no service section"},
		{"port from resources", "service:\n  replicas: 2\nresources:\n  ports: 8080\nrun: x\n", 8080, ""},
		{"service.ports wins", "service:\n  ports: 9000\nresources:\n  ports: [8080, 9000]\nrun: x\n", 9000, ""},
		{"no port", "service:\n  replicas: 2\nrun: x\n", 0, "resources.ports: a service needs exactly one port in resources, found none"},
		{"several ports", "service:\n  replicas: 2\nresources:\n  ports: [8080, 8081]\nrun: x\n", 0, "found 8080-8081"},
		{"candidates disagree", "service:\n  replicas: 1\nresources:\n  any_of:\n    - {ports: 8080, cpus: 2}\n    - {ports: 8081, cpus: 4}\nrun: x\n", 0,
			"different ports, 8080 and 8081"},
		{"fallback without spot", "service:\n  replica_policy:\n    min_replicas: 1\n    dynamic_ondemand_fallback: true\nresources:\n  ports: 8080\nrun: x\n", 0,
			"resources.use_spot: on-demand fallback"},
		{"fallback with spot", "service:\n  replica_policy:\n    min_replicas: 1\n    base_ondemand_fallback_replicas: 1\nresources:\n  ports: 8080\n  use_spot: true\nrun: x\n", 8080, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, port, err := ServiceOf(mustTask(t, tt.src), "app.yaml")
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("ServiceOf = %v, want %q", err, tt.err)
			case tt.err == "" && (err != nil || s == nil || port != tt.port):
				t.Fatalf("ServiceOf = %v, %d, %v; want port %d", s, port, err, tt.port)
			}
		})
	}
}

// TestCorpusServicesServe: every service in the conformance corpus passes the `serve up` checks and has a port.
func TestCorpusServicesServe(t *testing.T) {
	root, files := corpusFiles(t)
	services := 0
	for _, rel := range files {
		if templatedFiles[rel] {
			continue
		}
		p, err := LoadFile(filepath.Join(root, rel), LoadOptions{})
		if err != nil || len(p.Tasks) != 1 || p.Tasks[0].Service == nil {
			continue
		}
		services++
		if _, port, err := ServiceOf(p.Tasks[0], rel); err != nil || port == 0 {
			t.Errorf("%s: port %d, %v", rel, port, err)
		}
	}
	if services == 0 {
		t.Fatal("no service in the corpus")
	}
	t.Logf("%d services in the corpus", services)
}

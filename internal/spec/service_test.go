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

// TestServiceOf: serving a file without a service section names the file.
func TestServiceOf(t *testing.T) {
	t.Parallel()
	task := mustTask(t, "run: x\n")
	_, err := ServiceOf(task, "app.yaml")
	if err == nil || !strings.Contains(err.Error(), "app.yaml: this file has no service section") {
		t.Fatalf("ServiceOf = %v", err)
	}
	task = mustTask(t, "service:\n  replicas: 2\nrun: x\n")
	if s, err := ServiceOf(task, "app.yaml"); err != nil || s.MinReplicas != 2 {
		t.Fatalf("ServiceOf = %v, %v", s, err)
	}
}

package agenttls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeNode puts a node's TLS files, issued by ca for ip, in a fresh directory.
func writeNode(t *testing.T, ca *CA, ip string) string {
	t.Helper()
	dir := t.TempDir()
	cert, key, err := ca.Issue(ip)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{CAFile: ca.CertPEM, CertFile: cert, KeyFile: key} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// handshake serves one TLS connection with srv on ip and returns the error of a client using cli.
func handshake(t *testing.T, ip string, srv, cli *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", ip+":0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Handshake()
}

func TestIssuedCertificateIsTrustedOnlyWithItsCA(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("c2")
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"127.0.0.1", "127.0.0.7"} { // the node IP, and loopback (tunnels)
		dir := writeNode(t, ca, "127.0.0.7")
		srv, err := LoadServer(dir)
		if err != nil || srv == nil {
			t.Fatalf("LoadServer: %v, %v", srv, err)
		}
		cli, err := LoadClient(dir)
		if err != nil || cli == nil {
			t.Fatalf("LoadClient: %v, %v", cli, err)
		}
		if err := handshake(t, ip, srv, cli); err != nil {
			t.Errorf("%s with the cluster's CA: %v", ip, err)
		}
		wrong, _ := ClientConfig(other.CertPEM)
		var unknown x509.UnknownAuthorityError
		if err := handshake(t, ip, srv, wrong); !errors.As(err, &unknown) {
			t.Errorf("%s with another cluster's CA: %v, want an unknown-authority error", ip, err)
		}
	}
	// Another address than the certificate's is refused.
	srv, _ := LoadServer(writeNode(t, ca, "127.0.0.7"))
	cli, _ := ClientConfig(ca.CertPEM)
	var host x509.HostnameError
	if err := handshake(t, "127.0.0.8", srv, cli); !errors.As(err, &host) {
		t.Errorf("an address the certificate does not name: %v, want a hostname error", err)
	}
}

func TestParseCAAndFilesRejectBadInput(t *testing.T) {
	t.Parallel()
	a, _ := NewCA("a")
	b, _ := NewCA("b")
	if back, err := ParseCA(a.CertPEM, a.KeyPEM); err != nil || string(back.CertPEM) != string(a.CertPEM) {
		t.Fatalf("ParseCA of a CA: %v", err)
	}
	if _, err := ParseCA(a.CertPEM, b.KeyPEM); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("ParseCA with another key: %v", err)
	}
	if _, err := ParseCA([]byte("junk"), a.KeyPEM); err == nil {
		t.Error("ParseCA of junk: no error")
	}
	if _, _, err := a.Issue("not-an-ip"); err == nil {
		t.Error("Issue for a non-IP: no error")
	}
	if cfg, err := ClientConfig(nil); cfg != nil || err != nil {
		t.Errorf("ClientConfig(nil) = %v, %v; want plain", cfg, err)
	}
	if _, err := ClientConfig([]byte("junk")); err == nil {
		t.Error("ClientConfig of junk: no error")
	}
	empty := t.TempDir()
	if cfg, err := LoadServer(empty); cfg != nil || err != nil {
		t.Errorf("LoadServer without files = %v, %v; want plain", cfg, err)
	}
	dir := writeNode(t, a, "10.0.0.2")
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadServer(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadServer with a readable key: %v", err)
	}
	cert, _, _ := a.Issue("10.0.0.2")
	blk, _ := x509ParsePEM(cert)
	if !blk.IPAddresses[len(blk.IPAddresses)-1].Equal(net.ParseIP("10.0.0.2")) {
		t.Errorf("certificate IPs %v lack 10.0.0.2", blk.IPAddresses)
	}
}

func x509ParsePEM(b []byte) (*x509.Certificate, error) { return parseCert(b) }

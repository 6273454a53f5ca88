package ssh

import (
	"fmt"
	"strings"
)

// UnreachableError says that no SSH connection could be opened to a host: connection refused, timed out, no
// route, name not resolved, or the connection dropped before the SSH handshake finished. Providers map it to
// their own failover error (the host, not the cluster, is the problem).
type UnreachableError struct {
	// Addr is the host:port that was dialed; Via names the jump host when there was one.
	Addr, Via string
	Err       error
}

func (e *UnreachableError) Error() string {
	via := ""
	if e.Via != "" {
		via = " via " + e.Via
	}
	return fmt.Sprintf("ssh: cannot reach %s%s: %v; check that the host is up, sshd listens on that port and no firewall blocks it", e.Addr, via, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// AuthError says that the server refused every key stix offered.
type AuthError struct {
	// User is the login name, Addr the server.
	User, Addr string
	// Tried lists the keys offered: identity file paths, and "ssh-agent (N keys)".
	Tried []string
	Err   error
}

func (e *AuthError) Error() string {
	tried := "no keys (no identity file given or found, no ssh-agent)"
	if len(e.Tried) > 0 {
		tried = strings.Join(e.Tried, ", ")
	}
	return fmt.Sprintf("ssh: %s@%s refused authentication (tried %s): %v; add the public key to that user's ~/.ssh/authorized_keys or set the right identity file", e.User, e.Addr, tried, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// HostKeyChangedError says that a host presented a key other than the one its known_hosts file records: the
// host was re-created, or someone is in the middle. stix never replaces a recorded key by itself.
type HostKeyChangedError struct {
	// Host is the known_hosts name of the server ("[127.0.0.1]:2222" or "example.com").
	Host string
	// File and Line locate the recorded key.
	File string
	Line int
	// Got is the fingerprint (SHA256) of the key the server presented.
	Got string
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("ssh: host key of %s changed (server presented %s; %s line %d records another): if the host was re-created, delete that line and retry; otherwise someone may be intercepting the connection", e.Host, e.Got, e.File, e.Line)
}

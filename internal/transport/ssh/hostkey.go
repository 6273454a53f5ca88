package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsMu serialises appends to known_hosts files within this process: two nodes of a new cluster are
// often first contacted at the same time and share the cluster's file.
var knownHostsMu sync.Mutex

// hostKeys checks server keys against one known_hosts file with OpenSSH's accept-new policy: a host the file
// does not know is trusted on first contact and recorded; a known host must present a recorded key.
type hostKeys struct {
	file string
	// accepted is set when the callback accepted the key: an error after that is an authentication failure.
	accepted bool
	// changed holds the typed error of a changed key, which x/crypto wraps as text.
	changed *HostKeyChangedError
}

// load prepares the callback and returns the host key algorithms to ask for: those of the keys the file records
// for addr, so that a server with several keys presents the recorded one, or nil for a new host.
func (h *hostKeys) load(addr string) ([]string, error) {
	if h.file == "" {
		return nil, errors.New("ssh: no known_hosts file configured (Config.KnownHostsFile)")
	}
	if err := os.MkdirAll(filepath.Dir(h.file), 0o700); err != nil {
		return nil, fmt.Errorf("ssh: known_hosts: %w", err)
	}
	f, err := os.OpenFile(h.file, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ssh: known_hosts: %w", err)
	}
	f.Close()
	cb, err := knownhosts.New(h.file)
	if err != nil {
		return nil, fmt.Errorf("ssh: read %s: %w", h.file, err)
	}
	// Asking about a key nobody has reveals the recorded ones.
	var ke *knownhosts.KeyError
	if err := cb(addr, dummyAddr(addr), probeKey); errors.As(err, &ke) && len(ke.Want) > 0 {
		var algos []string
		for _, k := range ke.Want {
			algos = append(algos, algorithmsFor(k.Key.Type())...)
		}
		return algos, nil
	}
	return nil, nil
}

// callback is the ssh.HostKeyCallback of one connection.
func (h *hostKeys) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	// Read the file again under the lock: another connection may just have recorded this host.
	cb, err := knownhosts.New(h.file)
	if err != nil {
		return fmt.Errorf("read %s: %w", h.file, err)
	}
	err = cb(hostname, remote, key)
	var ke *knownhosts.KeyError
	switch {
	case err == nil:
		h.accepted = true
		return nil
	case errors.As(err, &ke) && len(ke.Want) == 0:
		if err := appendKnownHost(h.file, hostname, key); err != nil {
			return err
		}
		h.accepted = true
		return nil
	case errors.As(err, &ke):
		h.changed = &HostKeyChangedError{Host: knownhosts.Normalize(hostname), File: ke.Want[0].Filename,
			Line: ke.Want[0].Line, Got: ssh.FingerprintSHA256(key)}
		return h.changed
	default:
		return err
	}
}

func appendKnownHost(file, hostname string, key ssh.PublicKey) error {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("record host key in %s: %w", file, err)
	}
	return f.Close()
}

// algorithmsFor lists the signature algorithms of a key type: RSA keys sign with several.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// probeKey is a fixed key no server has, used to list the keys a known_hosts file records for a host.
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))) // all zeros
	if err != nil {
		return nil
	}
	return k
}()

// dummyAddr is a net.Addr for the probe; knownhosts matches on the hostname argument, and on the address only
// when it is an IP.
func dummyAddr(addr string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return &net.TCPAddr{}
	}
	return a
}

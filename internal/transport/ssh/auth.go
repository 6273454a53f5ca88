package ssh

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authMethods builds the public-key authentication of cfg: its identity files, then the ssh-agent's keys. tried
// names what is offered, for AuthError. An identity file that cannot be read or parsed is an error here rather
// than a confusing refusal later. release closes the ssh-agent connection: call it once the handshake is over.
func authMethods(cfg Config) (methods []ssh.AuthMethod, tried []string, release func(), err error) {
	files := cfg.IdentityFiles
	if len(files) == 0 && !cfg.UseAgent {
		files = defaultIdentities()
	}
	var signers []ssh.Signer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ssh: identity file: %w", err)
		}
		s, err := ssh.ParsePrivateKey(b)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing) && cfg.UseAgent:
			continue // the agent holds it unlocked, or the server refuses and AuthError names the agent
		case errors.As(err, &missing):
			return nil, nil, nil, fmt.Errorf("ssh: identity file %s is encrypted: add it to ssh-agent and enable the agent", f)
		case err != nil:
			return nil, nil, nil, fmt.Errorf("ssh: identity file %s: %w", f, err)
		}
		signers = append(signers, s)
		tried = append(tried, f)
	}
	if cfg.UseAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, nil, nil, errors.New("ssh: the ssh-agent is enabled but SSH_AUTH_SOCK is not set: start ssh-agent or give identity files")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ssh: ssh-agent at %s: %w", sock, err)
		}
		ag := agent.NewClient(conn)
		as, err := ag.Signers()
		if err != nil {
			conn.Close()
			return nil, nil, nil, fmt.Errorf("ssh: ssh-agent at %s: %w", sock, err)
		}
		signers = append(signers, as...)
		tried = append(tried, fmt.Sprintf("ssh-agent (%d keys)", len(as)))
		release = func() { conn.Close() }
	}
	if release == nil {
		release = func() {}
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, tried, release, nil
}

package agent

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/stix-run/stix/internal/agent/agenttls"
)

// listen opens the agent's listener on addr: TLS with DIR/tls.crt and DIR/tls.key when the provisioner put them
// there (every cluster whose agent traffic crosses a network), plain HTTP otherwise. A plain HTTP request to a
// TLS agent gets 400 "Client sent an HTTP request to an HTTPS server", and the secret it carried never left a
// client of ours: they speak TLS to such agents.
func listen(dir, addr string) (net.Listener, error) {
	cfg, err := agenttls.LoadServer(dir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if cfg == nil {
		return ln, nil
	}
	return tls.NewListener(ln, cfg), nil
}

// Package docker is the transport of a node that is a container on a Docker Engine: commands run as execs,
// files travel as tar streams through the Engine API's archive endpoints, and the node's agent is dialed at the
// container's address on its network (the engine runs on this machine, so container networks are routable).
package docker

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/transport"
)

// Options describe the node container.
type Options struct {
	// Home is the node's home directory inside the container; empty asks the container for its $HOME once.
	Home string
	// Network names the docker network whose address Dial uses; empty takes the container's only network.
	Network string
}

// Transport reaches a node that is a container. It is safe for concurrent use.
type Transport struct {
	cli     *dockerapi.Client
	id      string
	network string

	home *transport.ExecHome
}

var _ transport.Transport = (*Transport)(nil)

// New returns the transport of the container containerID on the engine cli talks to. It does not contact the
// engine; the client stays the caller's (Close does not close it).
func New(cli *dockerapi.Client, containerID string, opts Options) (*Transport, error) {
	if cli == nil || containerID == "" {
		return nil, fmt.Errorf("docker transport: a client and a container ID are required")
	}
	t := &Transport{cli: cli, id: containerID, network: opts.Network}
	var err error
	if t.home, err = transport.NewExecHome(opts.Home, "docker transport"); err != nil {
		return nil, err
	}
	return t, nil
}

// ContainerID returns the node's container ID.
func (t *Transport) ContainerID() string { return t.id }

// Home returns the node's home directory, asking the container for $HOME the first time.
func (t *Transport) Home(ctx context.Context) (string, error) {
	return t.home.Get(ctx, "docker container "+short(t.id), func(ctx context.Context, argv []string, stdout io.Writer) (int, error) {
		return t.exec(ctx, argv, execOptions{stdout: stdout})
	})
}

// Resolve maps a remote path to an absolute path in the container: "~" and "~/x" into the home directory,
// relative paths relative to it, absolute paths unchanged.
func (t *Transport) Resolve(ctx context.Context, remote string) (string, error) {
	return transport.Resolve(ctx, remote, t.Home)
}

// Dial connects to addr as the container sees it. A loopback or unspecified host ("127.0.0.1:8080",
// "0.0.0.0:8080", ":8080") means the container itself and becomes its address on its network, so the service
// must listen on all interfaces; any other address is dialed as it is.
func (t *Transport) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s on docker container %s: %w", addr, short(t.id), err)
	}
	if ip := net.ParseIP(host); host == "" || host == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		if host, err = t.IP(ctx); err != nil {
			return nil, fmt.Errorf("dial %s on docker container %s: %w", addr, short(t.id), err)
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("dial %s on docker container %s: %w", addr, short(t.id), err)
	}
	return c, nil
}

// IP returns the container's address on Options.Network, or on its only network.
func (t *Transport) IP(ctx context.Context) (string, error) {
	c, err := t.cli.ContainerInspect(ctx, t.id)
	if err != nil {
		return "", fmt.Errorf("inspect container: %w", err)
	}
	if c.NetworkSettings == nil || len(c.NetworkSettings.Networks) == 0 {
		return "", fmt.Errorf("container is on no network (is it running?)")
	}
	if t.network != "" {
		n, ok := c.NetworkSettings.Networks[t.network]
		if !ok || n.IPAddress == "" {
			return "", fmt.Errorf("container has no address on network %s", t.network)
		}
		return n.IPAddress, nil
	}
	if len(c.NetworkSettings.Networks) > 1 {
		return "", fmt.Errorf("container is on %d networks; set Options.Network", len(c.NetworkSettings.Networks))
	}
	for name, n := range c.NetworkSettings.Networks {
		if n.IPAddress == "" {
			return "", fmt.Errorf("container has no address on network %s", name)
		}
		return n.IPAddress, nil
	}
	return "", nil
}

// Close does nothing: the transport holds no connection of its own, and the client is the caller's.
func (t *Transport) Close() error { return nil }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

package docker

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/dockerapi"
)

var _ cloud.PortEndpoints = (*Provider)(nil)

// Endpoints implements cloud.PortEndpoints from the head container as the engine reports it: a port published
// on the engine's host is reached there (this machine for a local socket, DOCKER_HOST's host for a remote
// engine), one not published at the head container's IP on its network.
func (p *Provider) Endpoints(ctx context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	h := p.parseHandle(cloud.ClusterRef{Handle: info.Handle})
	if len(h.Containers) == 0 {
		return nil, fmt.Errorf("docker: the cluster has no containers recorded")
	}
	c, err := cli.ContainerInspect(ctx, h.Containers[0])
	if err != nil {
		return nil, fmt.Errorf("docker: inspect the head container %s: %w", h.Containers[0], err)
	}
	engineHost := "127.0.0.1"
	if u, err := url.Parse(cli.Host()); err == nil && u.Scheme != "unix" && u.Hostname() != "" {
		engineHost = u.Hostname()
	}
	containerIP := ""
	if head, ok := info.Head(); ok {
		containerIP = head.InternalIP
	}
	out := make(map[int]string, len(ports))
	for _, port := range ports {
		var bindings []dockerapi.PortBinding
		if ns := c.NetworkSettings; ns != nil {
			bindings = ns.Ports[strconv.Itoa(port)+"/tcp"]
		}
		switch {
		case len(bindings) > 0 && bindings[0].HostPort != "":
			host := bindings[0].HostIP
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				host = engineHost
			}
			out[port] = net.JoinHostPort(host, bindings[0].HostPort)
		case containerIP != "":
			out[port] = net.JoinHostPort(containerIP, strconv.Itoa(port))
		}
	}
	return out, nil
}

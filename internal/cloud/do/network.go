package do

import (
	"context"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
)

// A cluster's droplets sit behind one cloud firewall of its own, applied by the cluster's tag, made before the
// droplets so that they are never open: SSH and `resources.ports` from anywhere, everything between the
// cluster's droplets (their agents talk on the VPC's private addresses), everything out. Without a firewall a
// droplet takes any connection (SkyPilot leaves them so); DigitalOcean drops what a firewall does not allow.

// anywhere is a rule's sources or destinations: every address (made on use: nothing is allocated at init).
func anywhere() map[string][]string { return map[string][]string{"addresses": {"0.0.0.0/0", "::/0"}} }

type rule struct {
	Protocol     string `json:"protocol"`
	Ports        string `json:"ports,omitempty"`
	Sources      any    `json:"sources,omitempty"`
	Destinations any    `json:"destinations,omitempty"`
}

// firewallName names the cluster's firewall (letters, digits, '.', '-').
func firewallName(cluster string) string { return "stix-" + label(cluster) }

// firewallRequest is the cluster's firewall: inbound SSH and ports from anywhere, and all from the cluster's
// droplets; outbound all.
func firewallRequest(cluster string, ports []vm.PortRange) map[string]any {
	tag := clusterTag(cluster)
	own := map[string][]string{"tags": {tag}}
	in := []rule{{Protocol: "tcp", Ports: "22", Sources: anywhere()}}
	for _, p := range ports {
		in = append(in, rule{Protocol: "tcp", Ports: p.String(), Sources: anywhere()})
	}
	in = append(in, rule{Protocol: "tcp", Ports: "all", Sources: own}, rule{Protocol: "udp", Ports: "all", Sources: own},
		rule{Protocol: "icmp", Sources: own})
	out := []rule{{Protocol: "tcp", Ports: "all", Destinations: anywhere()}, {Protocol: "udp", Ports: "all", Destinations: anywhere()},
		{Protocol: "icmp", Destinations: anywhere()}}
	return map[string]any{"name": firewallName(cluster), "inbound_rules": in, "outbound_rules": out, "tags": []string{tag}}
}

// createFirewall makes the cluster's firewall and returns its id.
func (p *Provider) createFirewall(ctx context.Context, c *client, place cloud.Place, cluster string, ports []vm.PortRange) (string, error) {
	fw, err := c.createFirewall(ctx, firewallRequest(cluster, ports))
	if err != nil {
		return "", classify("create the firewall", place, err)
	}
	return fw.ID, nil
}

// deleteFirewall deletes a firewall; one already gone, or none (id ""), is no error.
func (p *Provider) deleteFirewall(ctx context.Context, c *client, place cloud.Place, id string) error {
	if id == "" {
		return nil
	}
	if err := c.deleteFirewall(ctx, id); err != nil && !notFound(err) {
		return classify("delete the firewall", place, err)
	}
	return nil
}

// findFirewall is the id of the cluster's firewall, found by its name ("" when there is none).
func findFirewall(ctx context.Context, c *client, place cloud.Place, cluster string) (string, error) {
	fws, err := c.firewalls(ctx)
	if err != nil {
		return "", classify("list firewalls", place, err)
	}
	for _, fw := range fws {
		if fw.Name == firewallName(cluster) {
			return fw.ID, nil
		}
	}
	return "", nil
}

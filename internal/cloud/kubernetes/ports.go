package kubernetes

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/kubeapi"
)

// portsMode is kubernetes.ports: how a task's ports are exposed. loadbalancer (the default, as in SkyPilot) and
// nodeport make a Service of that type in front of the head pod; podip exposes nothing (the pod's IP, inside
// the cluster network).
func (c contextConfig) portsMode() (string, error) {
	v, key, ok := c.get("ports")
	if !ok {
		return "loadbalancer", nil
	}
	s, _ := v.(string)
	switch s = strings.ToLower(s); s {
	case "loadbalancer", "nodeport", "podip":
		return s, nil
	}
	return "", fmt.Errorf("%s: %s is %v; stix supports loadbalancer, nodeport and podip (not ingress)", c.origin(key), key, v)
}

// expandPorts turns "8080" and "10000-10010" into port numbers.
func expandPorts(ports []string) ([]int, error) {
	var out []int
	for _, p := range ports {
		lo, hi, isRange := strings.Cut(p, "-")
		if !isRange {
			hi = lo
		}
		from, err1 := strconv.Atoi(lo)
		to, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to || to-from > 1000 {
			return nil, fmt.Errorf("ports %v: invalid port or range %q (want 1-65535, or a range such as 10000-10010)", ports, p)
		}
		for n := from; n <= to; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}

// ensurePortsService makes the Service that exposes the task's ports on the head pod; it returns its name, or
// "" with kubernetes.ports: podip.
func (p *Provider) ensurePortsService(ctx context.Context, cli *kubeapi.Client, cc contextConfig, ns, cluster, uid string, ports []string) (string, error) {
	place := cloud.Place{Cloud: Name, Region: cc.name}
	mode, err := cc.portsMode()
	if err != nil {
		return "", &cloud.InvalidConfigError{Place: place, Err: err}
	}
	nums, err := expandPorts(ports)
	if err != nil {
		return "", &cloud.InvalidConfigError{Place: place, Err: err}
	}
	if mode == "podip" {
		return "", nil
	}
	typ := map[string]string{"loadbalancer": "LoadBalancer", "nodeport": "NodePort"}[mode]
	var specPorts []any
	for _, n := range nums {
		specPorts = append(specPorts, map[string]any{"name": "port-" + strconv.Itoa(n), "port": n, "targetPort": n, "protocol": "TCP"})
	}
	selector := p.labels(cluster)
	selector[LabelRank] = "0"
	name := p.objectBase(cluster) + "-ports"
	meta := map[string]any{"name": name, "labels": p.labels(cluster)}
	if uid != "" {
		meta["ownerReferences"] = []any{map[string]any{"apiVersion": "v1", "kind": "Service", "name": p.objectBase(cluster), "uid": uid}}
	}
	svc := map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta,
		"spec": map[string]any{"type": typ, "selector": selector, "ports": specPorts}}
	if err := cli.Create(ctx, kubeapi.NSPath(ns, "services", ""), svc, nil); err != nil && !kubeapi.IsConflict(err) {
		return "", p.apiError(place, ns, "create the service for ports "+strings.Join(ports, ","), err)
	}
	return name, nil
}

// Endpoints implements cloud.PortEndpoints from the Service exposing the cluster's ports: the load balancer's
// ingress address with the port, else (nodeport) a node's address with the node port; a port whose load balancer
// has no address yet is left out. With kubernetes.ports: podip (no Service) a port is the head pod's IP, reached
// only inside the cluster network.
func (p *Provider) Endpoints(ctx context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	h, err := p.parseHandle(cloud.ClusterRef{Handle: info.Handle})
	if err != nil {
		return nil, err
	}
	if h.Ports == "" {
		return cloud.HeadEndpoints(info, ports)
	}
	cli, err := p.client(h.Context)
	if err != nil {
		return nil, err
	}
	var svc struct {
		Spec struct {
			Ports []struct {
				Port     int `json:"port"`
				NodePort int `json:"nodePort"`
			} `json:"ports"`
		} `json:"spec"`
		Status struct {
			LoadBalancer struct {
				Ingress []struct {
					IP       string `json:"ip"`
					Hostname string `json:"hostname"`
				} `json:"ingress"`
			} `json:"loadBalancer"`
		} `json:"status"`
	}
	if err := cli.Get(ctx, kubeapi.NSPath(h.Namespace, "services", h.Ports), &svc); err != nil {
		return nil, fmt.Errorf("kubernetes: service %s: %w", h.Ports, err)
	}
	host := ""
	if in := svc.Status.LoadBalancer.Ingress; len(in) > 0 {
		host = in[0].IP
		if host == "" {
			host = in[0].Hostname
		}
	}
	nodePorts := map[int]int{}
	for _, sp := range svc.Spec.Ports {
		nodePorts[sp.Port] = sp.NodePort
	}
	out := map[int]string{}
	nodeIP := ""
	for _, port := range ports {
		np, ok := nodePorts[port]
		switch {
		case !ok:
		case host != "":
			out[port] = net.JoinHostPort(host, strconv.Itoa(port))
		case np != 0:
			if nodeIP == "" {
				nodeIP = p.nodeAddress(ctx, cli)
			}
			if nodeIP != "" {
				out[port] = net.JoinHostPort(nodeIP, strconv.Itoa(np))
			}
		}
	}
	return out, nil
}

// nodeAddress is the first node's external address, else its internal one.
func (p *Provider) nodeAddress(ctx context.Context, cli *kubeapi.Client) string {
	var list struct {
		Items []struct {
			Status struct {
				Addresses []struct {
					Type    string `json:"type"`
					Address string `json:"address"`
				} `json:"addresses"`
			} `json:"status"`
		} `json:"items"`
	}
	if cli.Get(ctx, "/api/v1/nodes", &list) != nil || len(list.Items) == 0 {
		return ""
	}
	addr := ""
	for _, a := range list.Items[0].Status.Addresses {
		if a.Type == "ExternalIP" {
			return a.Address
		}
		if a.Type == "InternalIP" && addr == "" {
			addr = a.Address
		}
	}
	return addr
}

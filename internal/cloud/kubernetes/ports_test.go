package kubernetes

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/kubeapi"
)

// TestPortsEndpoints: resources.ports exposed through the cluster's Service as kubernetes.ports says, and
// reported as `status --endpoints` shows them: nodeport → a node's address with the node port the API server
// gave; loadbalancer → the same until the load balancer has an address, then that address with the port;
// podip → the head pod's IP.
func TestPortsEndpoints(t *testing.T) {
	p := newProvider(t)
	cpuNode(t, "ports-node")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req := cloud.Requirements{Ports: []string{"8080", "9000-9001"}}
	launch := func(ctx context.Context, name string) *cloud.ClusterInfo {
		t.Helper()
		info, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name}, Offer: offer(t, ctx, p, req), Requirements: req})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Terminate(context.Background(), cloud.ClusterRef{Name: name, Handle: info.Handle}) })
		return info
	}
	service := func(name string) map[string]any {
		t.Helper()
		var svc map[string]any
		if err := plane.Client.Get(ctx, kubeapi.NSPath("default", "services", p.objectBase(name)+"-ports"), &svc); err != nil {
			t.Fatal(err)
		}
		return svc
	}

	// atNodePorts checks that each port is reached at a node's address with the node port the API server gave.
	atNodePorts := func(what, name string, eps map[int]string, ports ...int) {
		t.Helper()
		nodePorts := map[int]string{}
		for _, sp := range service(name)["spec"].(map[string]any)["ports"].([]any) {
			m := sp.(map[string]any)
			nodePorts[int(m["port"].(float64))] = strconv.Itoa(int(m["nodePort"].(float64)))
		}
		if len(eps) != len(ports) {
			t.Errorf("%s endpoints: %v; want %v", what, eps, ports)
		}
		for _, port := range ports {
			host, got, err := net.SplitHostPort(eps[port])
			if err != nil || host == "" || got != nodePorts[port] {
				t.Errorf("%s port %d: %q; want a node's address with node port %s", what, port, eps[port], nodePorts[port])
			}
		}
	}

	// nodeport
	np := withConfig(t, ctx, "kubernetes:\n  ports: nodeport\n")
	info := launch(np, "np")
	eps, err := p.Endpoints(np, info, []int{8080, 9001})
	if err != nil {
		t.Fatal(err)
	}
	atNodePorts("nodeport", "np", eps, 8080, 9001)

	// loadbalancer (the default): its node ports until the load balancer has an address, then that address
	info = launch(ctx, "lb")
	if eps, err = p.Endpoints(ctx, info, []int{8080, 9000}); err != nil {
		t.Fatal(err)
	}
	atNodePorts("pending load balancer", "lb", eps, 8080, 9000)
	svc := service("lb")
	svc["status"] = map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": "203.0.113.7"}}}}
	meta := svc["metadata"].(map[string]any)
	if err := plane.Client.Do(ctx, "PUT", kubeapi.NSPath("default", "services", meta["name"].(string))+"/status", svc, nil); err != nil {
		t.Fatal(err)
	}
	eps, err = p.Endpoints(ctx, info, []int{8080, 9000})
	if err != nil || eps[8080] != "203.0.113.7:8080" || eps[9000] != "203.0.113.7:9000" || len(eps) != 2 {
		t.Errorf("load balancer endpoints: %v, %v; want 203.0.113.7 with each port", eps, err)
	}

	// podip: no Service, the head pod's address
	pi := withConfig(t, ctx, "kubernetes:\n  ports: podip\n")
	info = launch(pi, "pi")
	eps, err = p.Endpoints(pi, info, []int{9000})
	if want := net.JoinHostPort(info.Nodes[0].InternalIP, "9000"); err != nil || len(eps) != 1 || eps[9000] != want {
		t.Errorf("podip endpoints: %v, %v; want %s", eps, err, want)
	}
}

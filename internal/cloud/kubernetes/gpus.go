package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/agent/fingerprint"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/kubeapi"
)

// GPUResource is the extended resource NVIDIA's device plugin advertises.
const GPUResource = "nvidia.com/gpu"

// gpuLabelKeys are the node labels that name a node's GPU type, in the order SkyPilot's label formatters try
// them: its own label, GKE's, Karpenter's, NVIDIA GPU feature discovery's, CoreWeave's.
var gpuLabelKeys = []string{
	"skypilot.co/accelerator",
	"cloud.google.com/gke-accelerator",
	"karpenter.k8s.aws/instance-gpu-name",
	"nvidia.com/gpu.product",
	"gpu.nvidia.com/class",
}

// node is what stix reads of a Node.
type node struct {
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Unschedulable bool `json:"unschedulable"`
		Taints        []struct {
			Key    string `json:"key"`
			Value  string `json:"value"`
			Effect string `json:"effect"`
		} `json:"taints"`
	} `json:"spec"`
	Status struct {
		Capacity    map[string]string `json:"capacity"`
		Allocatable map[string]string `json:"allocatable"`
	} `json:"status"`
}

// gpuType returns the canonical GPU name of a node ("H100") with the label that says it, or "" when no label
// names one.
func (n *node) gpuType() (name, key, value string) {
	for _, k := range gpuLabelKeys {
		if v := n.Metadata.Labels[k]; v != "" {
			return fingerprint.Normalize(v), k, v
		}
	}
	return "", "", ""
}

// gpus is the node's allocatable GPU count.
func (n *node) gpus() int {
	v, _ := strconv.Atoi(n.Status.Allocatable[GPUResource])
	return v
}

// cpus is the node's allocatable CPUs.
func (n *node) cpus() float64 { return parseQuantity(n.Status.Allocatable["cpu"]) }

// memoryGB is the node's allocatable memory in GB (GiB, as SkyPilot counts).
func (n *node) memoryGB() float64 { return parseQuantity(n.Status.Allocatable["memory"]) / (1 << 30) }

// parseQuantity reads the Kubernetes quantities nodes report: "32", "500m", "256Gi", "1000Ki", "1e3", "2G".
func parseQuantity(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	suffixes := []struct {
		s string
		m float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50}, {"Ei", 1 << 60},
		{"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18}}
	for _, x := range suffixes {
		if num, ok := strings.CutSuffix(s, x.s); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0
			}
			return v * x.m
		}
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// NodeGPUs is one node's GPUs for `show-gpus --infra k8s`: its type, how many it has and how many no pod
// requests.
type NodeGPUs struct {
	Context string `json:"context"`
	Node    string `json:"node"`
	GPU     string `json:"gpu"`
	Total   int    `json:"total"`
	Free    int    `json:"free"`
}

// gpuTypes lists the canonical GPU types of a context's nodes, sorted.
func gpuTypes(nodes []node) []string {
	seen := map[string]bool{}
	for i := range nodes {
		if t, _, _ := nodes[i].gpuType(); t != "" && nodes[i].gpus() > 0 {
			seen[t] = true
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// NodeGPUs lists, for each allowed context, every node with GPUs: its type, its allocatable count, and what no
// running or pending pod requests (SkyPilot's real-time view for `show-gpus --infra k8s`).
func (p *Provider) NodeGPUs(ctx context.Context) ([]NodeGPUs, error) {
	kc, err := p.opts.Kubeconfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes infra: %w", err)
	}
	names, err := p.allowedContexts(config.FromContext(ctx), kc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes infra: %w", err)
	}
	var out []NodeGPUs
	for _, name := range names {
		cli, err := p.client(name)
		if err != nil {
			return nil, err
		}
		nodes, err := listNodes(ctx, cli)
		if err != nil {
			return nil, fmt.Errorf("kubernetes context %s: list nodes: %w", name, err)
		}
		var pods struct {
			Items []pod `json:"items"`
		}
		// Pods of every namespace that hold their node's resources: bound, and neither succeeded nor failed.
		if err := cli.Get(ctx, kubeapi.Query("/api/v1/pods", "fieldSelector", "status.phase!=Succeeded,status.phase!=Failed"), &pods); err != nil {
			return nil, fmt.Errorf("kubernetes context %s: list pods: %w", name, err)
		}
		used := map[string]int{}
		for _, pd := range pods.Items {
			if pd.Spec.NodeName == "" {
				continue
			}
			for _, c := range pd.Spec.Containers {
				n, _ := strconv.Atoi(c.Resources.Requests[GPUResource])
				used[pd.Spec.NodeName] += n
			}
		}
		for i := range nodes {
			n := &nodes[i]
			t, _, _ := n.gpuType()
			total := n.gpus()
			if t == "" || total == 0 {
				continue
			}
			out = append(out, NodeGPUs{Context: name, Node: n.Metadata.Name, GPU: t, Total: total,
				Free: max(total-used[n.Metadata.Name], 0)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Context != out[j].Context {
			return out[i].Context < out[j].Context
		}
		return out[i].Node < out[j].Node
	})
	return out, nil
}

package runpod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stix-run/stix/internal/lazyregexp"
	"net"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/vm"
	"github.com/stix-run/stix/internal/transport"
)

// Name is the provider's name.
const Name = "runpod"

// DefaultSSHUser is the login user of RunPod's images.
const DefaultSSHUser = "root"

// SSHUserEnv overrides the login user.
const SSHUserEnv = "STIX_RUNPOD_SSH_USER"

// DefaultImage is the container image of a pod when the task names none (image_id: docker:<image>): one of
// RunPod's own, which starts sshd with the PUBLIC_KEY of the pod's environment.
const DefaultImage = "runpod/pytorch:2.1.0-py3.10-cuda11.8.0-devel-ubuntu22.04"

// Options configure the provider; it keeps its SSH key and clusters under Home/runpod.
type Options = vm.Options

// Provider provisions clusters on RunPod: one pod per node in one data center (the catalog's zone; its country
// is the region), reached over SSH at the pod's public IP and the port RunPod maps to its port 22, the stix
// agent deployed there. Spot nodes are interruptible pods. It is no cloud.Stopper: a stopped pod loses its
// container disk, where the agent and its job table live (SkyPilot does not stop RunPod pods either).
type Provider struct {
	opts Options
	m    *vm.Machines
}

// New returns the RunPod provider. It reads no credentials until it is first used.
func New(opts Options) (*Provider, error) {
	m, err := opts.Machines(Name, "RunPod", SSHUserEnv, DefaultSSHUser)
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, m: m}, nil
}

// Name returns "runpod".
func (p *Provider) Name() string { return Name }

// Offers is not how RunPod is planned: its offers come from the catalog (Descriptor.Catalog).
func (p *Provider) Offers(context.Context) (cloud.OfferFunc, error) {
	return vm.CatalogOffers(Name)
}

// MaxNodes declares cloud.MultiNode: the pods of a cluster share a data center and RunPod's global network.
func (p *Provider) MaxNodes() int { return 0 }

// SpotPreemptible declares cloud.Spot: spot nodes are interruptible pods.
func (p *Provider) SpotPreemptible() {}

// OpensPorts declares cloud.PortOpener: the task's ports are exposed as TCP ports of the head pod.
func (p *Provider) OpensPorts() {}

// CheckImage accepts container images (image_id: docker:<image>): a pod runs one.
func (p *Provider) CheckImage(imageID string) error {
	if strings.HasPrefix(imageID, "docker:") && len(imageID) > len("docker:") {
		return nil
	}
	return fmt.Errorf("runpod infra runs container images (image_id: docker:<image>); the task asks for image_id %s", imageID)
}

var (
	_ cloud.CredentialVerifier = (*Provider)(nil)
	_ cloud.PortEndpoints      = (*Provider)(nil)
)

// VerifyCredentials makes one cheap read-only call (list pods) with the API key, for `stix check -v`: nil when
// RunPod accepts the key, else a typed error (*cloud.AuthError for a key it rejects).
func (p *Provider) VerifyCredentials(ctx context.Context) error {
	c, err := newClient()
	if err != nil {
		return err
	}
	_, err = c.pods(ctx)
	return classify("list pods", cloud.Place{Cloud: Name}, err)
}

// Endpoints maps each port to the public address:port RunPod maps to it on the head pod.
func (p *Provider) Endpoints(ctx context.Context, info *cloud.ClusterInfo, ports []int) (map[int]string, error) {
	h, err := readHandle(info)
	if err != nil {
		return nil, err
	}
	if len(h.PodIDs) == 0 {
		return nil, errors.New("runpod cluster: no head pod")
	}
	c, err := newClient()
	if err != nil {
		return nil, err
	}
	head, err := c.pod(ctx, h.PodIDs[0])
	if err != nil {
		return nil, classify("get pod "+h.PodIDs[0], cloud.Place{Cloud: Name}, err)
	}
	out := map[int]string{}
	for _, port := range ports {
		mapped, ok := head.PortMappings[strconv.Itoa(port)]
		if !ok || head.PublicIP == "" {
			return nil, fmt.Errorf("runpod cluster %s: port %d is not exposed on the head pod (launch with ports: [%d])", h.Cluster, port, port)
		}
		out[port] = net.JoinHostPort(head.PublicIP, strconv.Itoa(mapped))
	}
	return out, nil
}

// Transport opens an SSH connection to the node of the given rank, at the pod's public IP and mapped SSH port.
func (p *Provider) Transport(ctx context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	h, err := readHandle(info)
	if err != nil {
		return nil, err
	}
	if rank < 0 || rank >= len(info.Nodes) || rank >= len(h.SSHPorts) {
		return nil, fmt.Errorf("runpod cluster: no node of rank %d", rank)
	}
	n := info.Nodes[rank]
	return p.m.Dial(ctx, h.Cluster, net.JoinHostPort(n.ExternalIP, strconv.Itoa(h.SSHPorts[rank])))
}

func readHandle(info *cloud.ClusterInfo) (handle, error) {
	var h handle
	if info == nil {
		return h, errors.New("runpod cluster: no cluster information")
	}
	if err := json.Unmarshal(info.Handle, &h); err != nil || !vm.ValidName(h.Cluster) {
		return h, fmt.Errorf("runpod cluster: malformed handle %.100s", info.Handle)
	}
	return h, nil
}

// gpuTypeIDs are RunPod's GPU type ids of the catalog's accelerator names, as name/id pairs: a slice of
// constants costs nothing at start-up, where a map is built by an init.
var gpuTypeIDs = [...][2]string{
	{"A100-80GB", "NVIDIA A100 80GB PCIe"}, {"A100-80GB-SXM", "NVIDIA A100-SXM4-80GB"}, {"A40", "NVIDIA A40"},
	{"B200", "NVIDIA B200"}, {"H100", "NVIDIA H100 PCIe"}, {"H100-NVL", "NVIDIA H100 NVL"}, {"H100-SXM", "NVIDIA H100 80GB HBM3"},
	{"H200-SXM", "NVIDIA H200"}, {"L4", "NVIDIA L4"}, {"L40", "NVIDIA L40"}, {"L40S", "NVIDIA L40S"},
	{"MI300X", "AMD Instinct MI300X OAM"}, {"RTX3090", "NVIDIA GeForce RTX 3090"}, {"RTX4090", "NVIDIA GeForce RTX 4090"},
	{"RTX4000-Ada", "NVIDIA RTX 4000 Ada Generation"}, {"RTX6000-Ada", "NVIDIA RTX 6000 Ada Generation"},
	{"RTXA4000", "NVIDIA RTX A4000"}, {"RTXA4500", "NVIDIA RTX A4500"}, {"RTXA5000", "NVIDIA RTX A5000"},
	{"RTXA6000", "NVIDIA RTX A6000"},
}

// gpuTypeID is RunPod's GPU type id of a catalog accelerator name.
func gpuTypeID(name string) (string, bool) {
	for _, p := range gpuTypeIDs {
		if p[0] == name {
			return p[1], true
		}
	}
	return "", false
}

var (
	gpuTypeRE = lazyregexp.New(`^(\d+)x_(.+)_(SECURE|COMMUNITY)$`)
	cpuTypeRE = lazyregexp.New(`^(cpu\d+[a-z]+)-(\d+)-(\d+)$`)
)

// shape fills what a pod of the catalog's instance type asks for: "2x_A100-80GB_SECURE" (GPUs, cloud type) or
// "cpu3c-4-8" (a CPU flavor and vCPUs).
func shape(instanceType string, in *createPod) error {
	if m := gpuTypeRE.FindStringSubmatch(instanceType); m != nil {
		id, ok := gpuTypeID(m[2])
		if !ok {
			return fmt.Errorf("instance type %s: stix does not know RunPod's GPU type id for %s", instanceType, m[2])
		}
		in.ComputeType, in.GPUTypeIDs, in.CloudType = "GPU", []string{id}, m[3]
		in.GPUCount, _ = strconv.Atoi(m[1])
		return nil
	}
	if m := cpuTypeRE.FindStringSubmatch(instanceType); m != nil {
		in.ComputeType, in.CPUFlavorIDs, in.CloudType = "CPU", []string{m[1]}, "SECURE"
		in.VCPUCount, _ = strconv.Atoi(m[2])
		return nil
	}
	return fmt.Errorf("instance type %s is neither NxGPU_CLOUD (2x_A100-80GB_SECURE) nor a CPU flavor (cpu3c-4-8)", instanceType)
}

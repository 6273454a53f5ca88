package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/kubeapi"
)

// Name is the provider's name.
const Name = "kubernetes"

// DefaultImage is the image of tasks that name none: it needs a POSIX shell and tar (the agent and files are
// copied in through exec); bash is used when present.
const DefaultImage = "ubuntu:24.04"

// DefaultProvisionTimeout is how long a pod may stay unschedulable before the launch fails over
// (kubernetes.provision_timeout, seconds; SkyPilot's default).
const DefaultProvisionTimeout = 10 * time.Second

// Options configure the provider; all but Home have defaults.
type Options struct {
	// Home is STIX_HOME: its hash labels this home's pods apart from other homes' in a shared namespace.
	Home string
	// Kubeconfig loads the kubeconfig; the environment's (KUBECONFIG, ~/.kube/config, in-cluster) by default.
	Kubeconfig func() (*kubeapi.Kubeconfig, error)
	// AgentBinary finds the stix-agent executable; nodeagent.Binary by default.
	AgentBinary func() (string, error)
	// PodHome, when set, gives each pod's home directory instead of its $HOME: for test planes whose fake
	// kubelet (kwok) runs every pod's exec on one host, where pods must not share a home.
	PodHome func(pod string) string
}

// Provider runs clusters as pods.
type Provider struct {
	opts Options
	ns   string // short hash of Home, in every object's labels

	mu      sync.Mutex
	clients map[string]*kubeapi.Client
}

var (
	_ cloud.Provider     = (*Provider)(nil)
	_ cloud.MultiNode    = (*Provider)(nil)
	_ cloud.CustomImages = (*Provider)(nil)
	_ cloud.PortOpener   = (*Provider)(nil)

	_ cloud.PortEndpoints = (*Provider)(nil)
	_ cloud.NoFUSE        = (*Provider)(nil)
)

// New returns the Kubernetes provider.
func New(opts Options) *Provider {
	if opts.Kubeconfig == nil {
		opts.Kubeconfig = func() (*kubeapi.Kubeconfig, error) { return kubeapi.LoadKubeconfig(os.Getenv) }
	}
	if opts.AgentBinary == nil {
		opts.AgentBinary = nodeagent.Binary
	}
	sum := sha256.Sum256([]byte(opts.Home))
	return &Provider{opts: opts, ns: hex.EncodeToString(sum[:3]), clients: map[string]*kubeapi.Client{}}
}

// Name returns "kubernetes".
func (p *Provider) Name() string { return Name }

// MaxNodes declares cloud.MultiNode: a cluster's pods reach each other on the cluster network.
func (p *Provider) MaxNodes() int { return 0 }

// OpensPorts declares cloud.PortOpener: the ports are exposed by a Service (kubernetes.ports).
func (p *Provider) OpensPorts() {}

// NoFUSE declares cloud.NoFUSE: stix's pods get no /dev/fuse and no SYS_ADMIN (that takes a privileged pod or a
// FUSE device plugin, which stix does not ask for), so a task with MOUNT or MOUNT_CACHED buckets is not
// provisioned here; COPY needs no FUSE and works.
func (p *Provider) NoFUSE() string {
	return "its pods have no /dev/fuse: stix does not run them privileged or with a FUSE device plugin"
}

// CheckImage declares cloud.CustomImages: pods run container images, `image_id: docker:<image>`.
func (p *Provider) CheckImage(imageID string) error {
	if !strings.HasPrefix(imageID, "docker:") || strings.TrimPrefix(imageID, "docker:") == "" {
		return fmt.Errorf("kubernetes infra runs container images (image_id: docker:<image>); the task asks for %s", imageID)
	}
	return nil
}

// contextConfig is what the configuration says about one context: kubernetes.<key>, overridden by
// kubernetes.context_configs.<context>.<key>.
type contextConfig struct {
	cfg  *config.Config
	name string
}

func (c contextConfig) get(key string) (any, string, bool) {
	for _, k := range []string{"kubernetes.context_configs." + c.name + "." + key, "kubernetes." + key} {
		if v, ok := c.cfg.Get(k); ok {
			return v, k, true
		}
	}
	return nil, "", false
}

func (c contextConfig) origin(key string) string {
	o, _ := c.cfg.Origin(key)
	return o.String()
}

// namespace is kubernetes.namespace (per context), else the context's own namespace.
func (c contextConfig) namespace(cli *kubeapi.Client) string {
	if v, _, ok := c.get("namespace"); ok {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return cli.Namespace
}

// provisionTimeout is kubernetes.provision_timeout in seconds (per context); DefaultProvisionTimeout unset.
func (c contextConfig) provisionTimeout() time.Duration {
	v, _, ok := c.get("provision_timeout")
	if !ok {
		return DefaultProvisionTimeout
	}
	switch n := v.(type) {
	case int64:
		return time.Duration(n) * time.Second
	case float64:
		return time.Duration(n * float64(time.Second))
	case string:
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return time.Duration(f * float64(time.Second))
		}
	}
	return DefaultProvisionTimeout
}

// allowedContexts returns the contexts stix may use: kubernetes.allowed_contexts, else the current context (as
// SkyPilot does), each checked against the kubeconfig.
func (p *Provider) allowedContexts(cfg *config.Config, kc *kubeapi.Kubeconfig) ([]string, error) {
	list := cfg.AllowedList("kubernetes.allowed_contexts", false)
	if list.Names == nil {
		name, _, err := kc.Resolve("")
		if err != nil {
			return nil, err
		}
		return []string{name}, nil
	}
	var out []string
	for _, n := range list.Names {
		if _, ok := kc.Contexts[n]; !ok {
			return nil, fmt.Errorf("%s names context %q, which the kubeconfig does not have (it has: %s)", list, n,
				strings.Join(kc.ContextNames(), ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// client returns the API client of a context, cached.
func (p *Provider) client(name string) (*kubeapi.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[name]; c != nil {
		return c, nil
	}
	kc, err := p.opts.Kubeconfig()
	if err != nil {
		return nil, err
	}
	c, err := kc.NewClient(name)
	if err != nil {
		return nil, err
	}
	p.clients[name] = c
	return c, nil
}

// contextState is one context's snapshot for planning.
type contextState struct {
	name  string
	nodes []node
	err   error
}

// listNodes reads a context's nodes.
func listNodes(ctx context.Context, cli *kubeapi.Client) ([]node, error) {
	var list struct {
		Items []node `json:"items"`
	}
	if err := cli.Get(ctx, "/api/v1/nodes", &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// Offers lists, for each allowed context, its nodes, and answers from that snapshot: a context fits a request
// when one of its nodes has the CPUs, memory and GPUs (of the type asked, by label) of one node of the task.
// Whether they are free now is learnt at provisioning, where an unschedulable pod is a capacity error.
func (p *Provider) Offers(ctx context.Context) (cloud.OfferFunc, error) {
	cfg := config.FromContext(ctx)
	kc, err := p.opts.Kubeconfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes infra: %w", err)
	}
	names, err := p.allowedContexts(cfg, kc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes infra: %w", err)
	}
	states := make([]contextState, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i].name = n
			cli, err := p.client(n)
			if err == nil {
				states[i].nodes, err = listNodes(ctx, cli)
			}
			states[i].err = err
		}()
	}
	wg.Wait()
	return func(req cloud.Requirements) ([]cloud.Offer, error) {
		var offers []cloud.Offer
		var why []string
		for _, st := range states {
			if req.Region != "" && req.Region != st.name {
				continue
			}
			o, reason := offerIn(st, req)
			if reason != "" {
				why = append(why, reason)
				continue
			}
			offers = append(offers, o)
		}
		if req.Region != "" && !slices.Contains(names, req.Region) {
			why = append(why, fmt.Sprintf("kubernetes context %s is not allowed (allowed: %s); set kubernetes.allowed_contexts",
				req.Region, strings.Join(names, ", ")))
		}
		if len(offers) == 0 {
			return nil, &cloud.InfeasibleError{Cloud: Name, Reasons: why}
		}
		return offers, nil
	}, nil
}

// shape is what one pod requests: CPUs, memory (GB) and GPUs of one type.
type shape struct {
	cpus     float64
	memoryGB float64
	gpu      string
	gpus     int
}

// shapeOf resolves a task's per-node request; SkyPilot's Kubernetes default is 2 CPUs and 4 GB per CPU.
func shapeOf(req cloud.Requirements) (shape, error) {
	s := shape{cpus: 2}
	if req.CPUs.IsSet() {
		s.cpus = req.CPUs.Value
	}
	s.memoryGB = 4 * s.cpus
	if req.Memory.IsSet() {
		s.memoryGB = req.Memory.GB(s.cpus).Value
	}
	for name, n := range req.Accelerators {
		if s.gpu != "" {
			return s, fmt.Errorf("kubernetes infra takes one GPU type per node; the task asks for %v", req.Accelerators)
		}
		if n != float64(int(n)) || n < 1 {
			return s, fmt.Errorf("kubernetes infra allocates whole GPUs; the task asks for %s:%g", name, n)
		}
		s.gpu, s.gpus = name, int(n)
	}
	return s, nil
}

// instanceType names a shape as SkyPilot names Kubernetes instance types: "4CPU--16GB", "8CPU--32GB--2H100".
func (s shape) instanceType() string {
	t := strconv.FormatFloat(s.cpus, 'f', -1, 64) + "CPU--" + strconv.FormatFloat(s.memoryGB, 'f', -1, 64) + "GB"
	if s.gpu != "" {
		t += "--" + strconv.Itoa(s.gpus) + s.gpu
	}
	return t
}

func offerIn(st contextState, req cloud.Requirements) (cloud.Offer, string) {
	where := "kubernetes context " + st.name
	if st.err != nil {
		return cloud.Offer{}, fmt.Sprintf("%s: %v", where, st.err)
	}
	s, err := shapeOf(req)
	if err != nil {
		return cloud.Offer{}, err.Error()
	}
	if s.gpu != "" {
		types := gpuTypes(st.nodes)
		if !slices.ContainsFunc(types, func(t string) bool { return strings.EqualFold(t, s.gpu) }) {
			has := "no GPUs"
			if len(types) > 0 {
				has = "GPU types " + strings.Join(types, ", ")
			}
			return cloud.Offer{}, fmt.Sprintf("%s has no %s GPUs (it has %s)", where, s.gpu, has)
		}
	}
	fits, most := false, 0
	for i := range st.nodes {
		n := &st.nodes[i]
		if s.gpu != "" {
			t, _, _ := n.gpuType()
			if !strings.EqualFold(t, s.gpu) {
				continue
			}
			most = max(most, n.gpus())
			if n.gpus() < s.gpus {
				continue
			}
		}
		if n.cpus() >= s.cpus && n.memoryGB() >= s.memoryGB {
			fits = true
			break
		}
	}
	if !fits {
		if s.gpu != "" && most < s.gpus {
			return cloud.Offer{}, fmt.Sprintf("%s: no node has %d %s GPUs (the most is %d)", where, s.gpus, s.gpu, most)
		}
		return cloud.Offer{}, fmt.Sprintf("%s: no node has %g CPUs and %g GB of memory allocatable", where, s.cpus, s.memoryGB)
	}
	res := cloud.Resources{CPUs: s.cpus, MemoryGB: s.memoryGB}
	if s.gpu != "" {
		res.Accelerators = map[string]float64{s.gpu: float64(s.gpus)}
	}
	return cloud.Offer{Cloud: Name, Region: st.name, InstanceType: s.instanceType(), Resources: res, RegionIsCluster: true}, ""
}

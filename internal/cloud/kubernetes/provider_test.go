package kubernetes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/kubetest"
	"github.com/stix-run/stix/internal/transport"
)

var plane *kubetest.Plane

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(func() int { return testutil.RunWithAgent(m) }, &plane))
}

// newProvider (benchProvider) is a provider of the test plane, each pod with its own home under the plane's pod root (kwok runs
// every pod's exec on this machine).
func newProvider(t *testing.T) *Provider { return benchProvider(t) }

func benchProvider(t testing.TB) *Provider {
	p := kubetest.Require(t, plane)
	return New(Options{
		Home:       t.TempDir(),
		Kubeconfig: func() (*kubeapi.Kubeconfig, error) { return kubeapi.ParseKubeconfigFile(p.Kubeconfig) },
		PodHome: func(pod string) string {
			home := filepath.Join(p.PodRoot, pod)
			os.MkdirAll(home, 0o755) // a real pod's image has its home; kwok's host does not
			return home
		},
	})
}

// withConfig returns ctx carrying the configuration yaml.
func withConfig(t *testing.T, ctx context.Context, yaml string) context.Context {
	t.Helper()
	cfg, err := config.Parse(config.LayerUser, "config.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return config.NewContext(ctx, cfg)
}

// gpuNodes adds n fake nodes with 8 GPUs of the label value given.
func gpuNodes(t *testing.T, prefix, key, value string, n int) {
	t.Helper()
	for i := range n {
		addNode(t, kubetest.Node{Name: prefix + "-" + string(rune('a'+i)), Labels: map[string]string{key: value},
			Capacity: map[string]string{GPUResource: "8"}})
	}
}

// cpuNode adds a fake node of kubetest's default capacity (32 CPUs, 256 GiB), so a test that asks for the default
// pod shape does not depend on the nodes other tests left.
func cpuNode(t *testing.T, name string) { addNode(t, kubetest.Node{Name: name}) }

func addNode(t *testing.T, n kubetest.Node) {
	t.Helper()
	if err := plane.AddNode(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plane.DeleteNode(context.Background(), n.Name) })
}

func offer(t *testing.T, ctx context.Context, p *Provider, req cloud.Requirements) cloud.Offer {
	t.Helper()
	f, err := p.Offers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offers, err := cloud.Feasible(p, f, req)
	if err != nil {
		t.Fatal(err)
	}
	return offers[0]
}

// leftovers lists the objects of a cluster still in the namespace.
func leftovers(t *testing.T, p *Provider, cluster string) []string {
	t.Helper()
	var out []string
	for _, res := range []string{"pods", "services"} {
		var list struct {
			Items []struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			} `json:"items"`
		}
		if err := plane.Client.Get(context.Background(), kubeapi.Query(kubeapi.NSPath("default", res, ""), "labelSelector", p.selector(cluster)), &list); err != nil {
			t.Fatal(err)
		}
		for _, it := range list.Items {
			out = append(out, res+"/"+it.Metadata.Name)
		}
	}
	return out
}

func waitGone(t *testing.T, p *Provider, cluster string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		left := leftovers(t, p, cluster)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after down, %s still has %v", cluster, left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTwoNodeH100Cluster(t *testing.T) {
	p := newProvider(t)
	gpuNodes(t, "h100", "nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req := cloud.Requirements{Accelerators: map[string]float64{"H100": 8}, NumNodes: 2}
	o := offer(t, ctx, p, req)
	if o.Region != plane.Context || o.InstanceType != "2CPU--8GB--8H100" {
		t.Fatalf("offer %+v", o)
	}
	info, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "train"}, Offer: o, Requirements: req})
	if err != nil {
		t.Fatal(err)
	}
	ref := cloud.ClusterRef{Name: "train", Handle: info.Handle}
	t.Cleanup(func() { p.Terminate(context.Background(), ref) })
	if len(info.Nodes) != 2 || info.Nodes[0].InternalIP == "" || info.Nodes[0].InternalIP == info.Nodes[1].InternalIP {
		t.Fatalf("nodes %+v", info.Nodes)
	}
	// Each pod runs its own agent, in its own home.
	for rank := range 2 {
		tr, err := p.Transport(ctx, info, rank)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		code, err := tr.Run(ctx, `echo "$HOME"; cat ~/.stix/agent/agent.addr`, transport.RunOptions{Stdout: &out})
		if err != nil || code != 0 {
			t.Fatalf("node %d: exit %d, %v", rank, code, err)
		}
		if !strings.Contains(out.String(), info.Nodes[rank].Home) || !strings.Contains(out.String(), strings.TrimPrefix(info.Nodes[rank].AgentAddr, "127.0.0.1")) {
			t.Fatalf("node %d: %q; want home %s and agent %s", rank, out.String(), info.Nodes[rank].Home, info.Nodes[rank].AgentAddr)
		}
		tr.Close()
	}
	// The pods asked for the GPUs, on H100 nodes.
	var pd struct {
		Spec struct {
			NodeName   string `json:"nodeName"`
			Containers []struct {
				Resources struct {
					Limits map[string]string `json:"limits"`
				} `json:"resources"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := plane.Client.Get(ctx, kubeapi.NSPath("default", "pods", p.podName("train", 1)), &pd); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pd.Spec.NodeName, "h100-") || pd.Spec.Containers[0].Resources.Limits[GPUResource] != "8" {
		t.Fatalf("worker pod on %q with limits %v", pd.Spec.NodeName, pd.Spec.Containers[0].Resources.Limits)
	}
	// The real-time GPU view counts what the pods took: each H100 node has 0 of its 8 free.
	gpus, err := p.NodeGPUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var h100 []NodeGPUs
	for _, g := range gpus {
		if strings.HasPrefix(g.Node, "h100-") {
			h100 = append(h100, g)
		}
	}
	if len(h100) != 2 || h100[0].GPU != "H100" || h100[0].Total != 8 || h100[0].Free != 0 || h100[1].Free != 0 {
		t.Fatalf("GPUs after the launch: %+v; want two H100 nodes with 8 total, 0 free", h100)
	}
	states, err := p.Query(ctx, ref)
	if err != nil || len(states) != 2 || states[0].Status != cloud.NodeRunning || states[1].Status != cloud.NodeRunning {
		t.Fatalf("query: %+v, %v", states, err)
	}
	if err := p.Terminate(ctx, ref); err != nil {
		t.Fatal(err)
	}
	waitGone(t, p, "train")
	if gpus, err = p.NodeGPUs(ctx); err != nil {
		t.Fatal(err)
	}
	for _, g := range gpus {
		if strings.HasPrefix(g.Node, "h100-") && g.Free != 8 {
			t.Errorf("after down, %s has %d of 8 GPUs free", g.Node, g.Free)
		}
	}
	states, err = p.Query(ctx, ref)
	if err != nil || states[0].Status != cloud.NodeMissing {
		t.Fatalf("query after down: %+v, %v", states, err)
	}
}

func TestUnschedulablePodIsCapacityErrorAndLeavesNothing(t *testing.T) {
	p := newProvider(t)
	gpuNodes(t, "a100", "cloud.google.com/gke-accelerator", "nvidia-tesla-a100", 1)
	ctx := withConfig(t, context.Background(), "kubernetes:\n  provision_timeout: 1\n")
	// One node with 8 A100: a second 8-GPU pod cannot be placed.
	req := cloud.Requirements{Accelerators: map[string]float64{"A100": 8}, NumNodes: 2}
	o := offer(t, ctx, p, req)
	_, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "full"}, Offer: o, Requirements: req})
	var ce *cloud.CapacityError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "Insufficient nvidia.com/gpu") {
		t.Fatalf("provision on a full cluster: %v; want a capacity error naming Insufficient nvidia.com/gpu", err)
	}
	if s := cloud.ScopeOf(err); s.Level != cloud.LevelRegion || s.Region != plane.Context {
		t.Fatalf("scope %v; want the context", s)
	}
	waitGone(t, p, "full")
}

func TestOffersRefuseWhatNoNodeHas(t *testing.T) {
	p := newProvider(t)
	gpuNodes(t, "l4", "skypilot.co/accelerator", "l4", 1)
	ctx := context.Background()
	f, err := p.Offers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req  cloud.Requirements
		want string
	}{
		{cloud.Requirements{Accelerators: map[string]float64{"B200": 1}}, "has no B200 GPUs (it has GPU types L4"},
		{cloud.Requirements{Accelerators: map[string]float64{"L4": 16}}, "no node has 16 L4 GPUs (the most is 8)"},
		{cloud.Requirements{CPUs: cloud.Amount{Value: 512}}, "no node has 512 CPUs"},
		{cloud.Requirements{Region: "elsewhere"}, "context elsewhere is not allowed"},
	} {
		_, err := f(tc.req)
		var ie *cloud.InfeasibleError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want an infeasible error with %q", tc.req, err, tc.want)
		}
	}
}

func TestAllowedContextsMustExist(t *testing.T) {
	p := newProvider(t)
	ctx := withConfig(t, context.Background(), "kubernetes:\n  allowed_contexts: [nope]\n")
	_, err := p.Offers(ctx)
	if err == nil || !strings.Contains(err.Error(), `names context "nope"`) || !strings.Contains(err.Error(), plane.Context) {
		t.Fatalf("an allowed context the kubeconfig lacks: %v", err)
	}
}

func TestTwoContexts(t *testing.T) {
	kubetest.Require(t, plane)
	ctx := context.Background()
	ns := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "team2"}}
	if err := plane.Client.Create(ctx, "/api/v1/namespaces", ns, nil); err != nil && !kubeapi.IsConflict(err) {
		t.Fatal(err)
	}
	// Two contexts on the one plane, in two namespaces.
	kc := kubetest.KubeconfigYAML(plane.Server(), "default", "one", kubetest.Token)
	two := strings.NewReplacer("name: one", "name: two", "{cluster: one, user: one, namespace: default}",
		"{cluster: two, user: two, namespace: team2}", "current-context: one", "").Replace(kc)
	two = two[strings.Index(two, "clusters:"):]
	file1, file2 := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two")
	os.WriteFile(file1, []byte(kc), 0o600)
	os.WriteFile(file2, []byte(two), 0o600)
	p := New(Options{
		Home: t.TempDir(),
		Kubeconfig: func() (*kubeapi.Kubeconfig, error) {
			return kubeapi.LoadKubeconfig(func(k string) string {
				return map[string]string{"KUBECONFIG": file1 + string(os.PathListSeparator) + file2}[k]
			})
		},
		PodHome: func(pod string) string {
			home := filepath.Join(plane.PodRoot, "two-contexts", pod)
			os.MkdirAll(home, 0o755)
			return home
		},
	})
	gpuNodes(t, "ctx", "skypilot.co/accelerator", "l4", 1)
	cctx := withConfig(t, ctx, "kubernetes:\n  allowed_contexts: [one, two]\n")
	req := cloud.Requirements{CPUs: cloud.Amount{Value: 1}}
	f, err := p.Offers(cctx)
	if err != nil {
		t.Fatal(err)
	}
	offers, err := f(req)
	if err != nil || len(offers) != 2 || offers[0].Region != "one" || offers[1].Region != "two" {
		t.Fatalf("offers %+v, %v; want one per context, in allowed order", offers, err)
	}
	req.Region = "two"
	offers, err = f(req)
	if err != nil || len(offers) != 1 {
		t.Fatalf("offers in two: %+v, %v", offers, err)
	}
	info, err := p.Provision(cctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "c2"}, Offer: offers[0], Requirements: req})
	if err != nil {
		t.Fatal(err)
	}
	ref := cloud.ClusterRef{Name: "c2", Handle: info.Handle}
	t.Cleanup(func() { p.Terminate(context.Background(), ref) })
	if info.Region != "two" {
		t.Fatalf("cluster in %q; want two", info.Region)
	}
	if err := plane.Client.Get(ctx, kubeapi.NSPath("team2", "pods", p.podName("c2", 0)), nil); err != nil {
		t.Fatalf("the head pod is not in team2: %v", err)
	}
	if err := p.Terminate(ctx, ref); err != nil {
		t.Fatal(err)
	}
}

// A user who may read but not create in the namespace gets an authorization error naming it, and nothing is
// left behind.
func TestNamespaceWithoutWriteAccess(t *testing.T) {
	kubetest.Require(t, plane)
	ctx := context.Background()
	role := map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": "stix-reader"},
		"rules":    []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"nodes", "pods", "services"}, "verbs": []any{"get", "list"}}}}
	binding := map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": "stix-reader"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "stix-reader"},
		"subjects": []any{map[string]any{"kind": "User", "name": "reader", "apiGroup": "rbac.authorization.k8s.io"}}}
	for path, obj := range map[string]any{"/apis/rbac.authorization.k8s.io/v1/clusterroles": role,
		"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings": binding} {
		if err := plane.Client.Create(ctx, path, obj, nil); err != nil && !kubeapi.IsConflict(err) {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(file, []byte(kubetest.KubeconfigYAML(plane.Server(), "default", "reader", kubetest.ReaderToken)), 0o600)
	p := New(Options{Home: t.TempDir(), Kubeconfig: func() (*kubeapi.Kubeconfig, error) { return kubeapi.ParseKubeconfigFile(file) }})
	gpuNodes(t, "ro", "skypilot.co/accelerator", "l4", 1)
	req := cloud.Requirements{CPUs: cloud.Amount{Value: 1}}
	o := offer(t, ctx, p, req)
	_, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "ro"}, Offer: o, Requirements: req})
	var ae *cloud.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "in namespace default") {
		t.Fatalf("provision without write access: %v; want an authorization error naming the namespace", err)
	}
	waitGone(t, p, "ro")
}

// pod_config reaches the pods: a toleration it adds lets them onto a tainted node, which they cannot use
// without it (an untolerated taint is a capacity error), and its labels and env are on the pod.
func TestPodConfigOnTheCluster(t *testing.T) {
	p := newProvider(t)
	ctx := context.Background()
	name := "tainted-a10g"
	if err := plane.AddNode(ctx, kubetest.Node{Name: name, Labels: map[string]string{"skypilot.co/accelerator": "a10g"},
		Capacity: map[string]string{GPUResource: "4"},
		Taints:   []map[string]string{{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plane.DeleteNode(context.Background(), name) })
	req := cloud.Requirements{Accelerators: map[string]float64{"A10G": 1}}
	bare := withConfig(t, ctx, "kubernetes:\n  provision_timeout: 1\n")
	o := offer(t, bare, p, req)
	_, err := p.Provision(bare, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "tol"}, Offer: o, Requirements: req})
	var ce *cloud.CapacityError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "untolerated taint") {
		t.Fatalf("a tainted node without a toleration: %v; want a capacity error naming the taint", err)
	}
	waitGone(t, p, "tol")
	withTol := withConfig(t, ctx, `kubernetes:
  provision_timeout: 1
  pod_config:
    metadata:
      labels: {team: ml}
    spec:
      tolerations:
        - {key: dedicated, operator: Equal, value: ml, effect: NoSchedule}
      containers:
        - env: [{name: FROM_POD_CONFIG, value: "yes"}]
`)
	info, err := p.Provision(withTol, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: "tol"}, Offer: o, Requirements: req})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate(context.Background(), cloud.ClusterRef{Name: "tol", Handle: info.Handle}) })
	var pd struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			NodeName   string `json:"nodeName"`
			Containers []struct {
				Env []struct{ Name, Value string } `json:"env"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := plane.Client.Get(ctx, kubeapi.NSPath("default", "pods", p.podName("tol", 0)), &pd); err != nil {
		t.Fatal(err)
	}
	if pd.Spec.NodeName != name || pd.Metadata.Labels["team"] != "ml" || pd.Metadata.Labels[LabelCluster] != "tol" ||
		len(pd.Spec.Containers[0].Env) != 1 || pd.Spec.Containers[0].Env[0].Name != "FROM_POD_CONFIG" {
		t.Fatalf("pod on %q with labels %v and env %+v", pd.Spec.NodeName, pd.Metadata.Labels, pd.Spec.Containers[0].Env)
	}
}

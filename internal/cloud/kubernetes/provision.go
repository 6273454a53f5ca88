package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/config"
	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/transport"
	kubetransport "github.com/stix-run/stix/internal/transport/kube"
)

// startTimeout bounds how long scheduled pods may take to run (image pulls) before the launch fails.
const startTimeout = 10 * time.Minute

// pod is what stix reads of a Pod.
type pod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels"`
		DeletionTimestamp *string           `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName   string `json:"nodeName"`
		Containers []struct {
			Resources struct {
				Requests map[string]string `json:"requests"`
			} `json:"resources"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase             string            `json:"phase"`
		PodIP             string            `json:"podIP"`
		Reason            string            `json:"reason"`
		Message           string            `json:"message"`
		Conditions        []podCondition    `json:"conditions"`
		ContainerStatuses []containerStatus `json:"containerStatuses"`
	} `json:"status"`
}

// podCondition is one of a pod's status conditions (PodScheduled, Ready, ...).
type podCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// containerStatus is what stix reads of a container's state.
type containerStatus struct {
	Name  string `json:"name"`
	State struct {
		Waiting    *containerReason `json:"waiting"`
		Terminated *containerReason `json:"terminated"`
	} `json:"state"`
}

// containerReason is a waiting or terminated container's reason and message.
type containerReason struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (p *Provider) listPods(ctx context.Context, cli *kubeapi.Client, ns, cluster string) ([]pod, error) {
	var list struct {
		Items []pod `json:"items"`
	}
	if err := cli.Get(ctx, kubeapi.Query(kubeapi.NSPath(ns, "pods", ""), "labelSelector", p.selector(cluster)), &list); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, _ := strconv.Atoi(list.Items[i].Metadata.Labels[LabelRank])
		b, _ := strconv.Atoi(list.Items[j].Metadata.Labels[LabelRank])
		return a < b
	})
	return list.Items, nil
}

// Provision creates the cluster's Service and pods (or finds them), waits for the pods to run, and deploys the
// agent into each through the API server. A pod the scheduler cannot place within kubernetes.provision_timeout
// is a *cloud.CapacityError naming the scheduler's reason, and an image that cannot be pulled an
// *cloud.InvalidConfigError; either way the objects made are removed.
func (p *Provider) Provision(ctx context.Context, req cloud.ProvisionRequest) (*cloud.ClusterInfo, error) {
	kctx := req.Offer.Region
	place := cloud.Place{Cloud: Name, Region: kctx}
	cfg := config.FromContext(ctx)
	cli, err := p.client(kctx)
	if err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Err: err}
	}
	cc := contextConfig{cfg: cfg, name: kctx}
	ns := cc.namespace(cli)
	s, err := shapeOf(req.Requirements)
	if err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Err: err}
	}
	image := DefaultImage
	if ref, ok := strings.CutPrefix(req.Requirements.ImageID, "docker:"); ok && ref != "" {
		image = ref
	}
	podConfig, err := cc.podConfig()
	if err != nil {
		return nil, &cloud.InvalidConfigError{Place: place, Err: err}
	}
	bin, err := p.opts.AgentBinary()
	if err != nil {
		return nil, err
	}
	relay, err := nodeagent.RemoteBinary(bin, nodeagent.DefaultBinDir)
	if err != nil {
		return nil, err
	}
	var placeGPU gpuPlacement
	if s.gpu != "" {
		nodes, err := listNodes(ctx, cli)
		if err != nil {
			return nil, p.apiError(place, ns, "list nodes", err)
		}
		placeGPU = gpuPlacement{}
		for i := range nodes {
			if t, key, value := nodes[i].gpuType(); strings.EqualFold(t, s.gpu) {
				if !slices.Contains(placeGPU[key], value) {
					placeGPU[key] = append(placeGPU[key], value)
				}
			}
		}
		if len(placeGPU) == 0 {
			return nil, &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("no node of context %s has %s GPUs now", kctx, s.gpu)}
		}
	}
	name, n := req.Cluster.Name, req.Requirements.Nodes()
	h := handle{Context: kctx, Namespace: ns, Service: p.objectBase(name), Relay: relay}
	for rank := range n {
		h.Pods = append(h.Pods, p.podName(name, rank))
	}
	existing, err := p.listPods(ctx, cli, ns, name)
	if err != nil {
		return nil, p.apiError(place, ns, "list pods", err)
	}
	fresh := len(existing) == 0
	// Anything this launch made is removed when it fails; a cluster that existed is left for `stix down`.
	fail := func(err error) (*cloud.ClusterInfo, error) {
		if fresh {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			p.terminate(cctx, cli, ns, name)
		}
		return nil, err
	}
	req.Report(fmt.Sprintf("creating %d pod(s) in namespace %s of context %s: %s", n, ns, kctx, strings.Join(h.Pods, ", ")))
	uid, err := p.ensureService(ctx, cli, ns, name)
	if err != nil {
		return fail(p.apiError(place, ns, "create the cluster's service", err))
	}
	for rank := range n {
		obj, err := p.podObject(name, rank, uid, image, s, placeGPU, podConfig)
		if err != nil {
			return fail(&cloud.InvalidConfigError{Place: place, Err: err})
		}
		if err := cli.Create(ctx, kubeapi.NSPath(ns, "pods", ""), obj, nil); err != nil && !kubeapi.IsConflict(err) {
			if se := (*kubeapi.StatusError)(nil); errors.As(err, &se) && se.Code == http.StatusUnprocessableEntity {
				return fail(&cloud.InvalidConfigError{Place: place, Reason: "the pod stix made (with kubernetes.pod_config) is invalid", Err: err})
			}
			return fail(p.apiError(place, ns, "create pod "+obj["metadata"].(map[string]any)["name"].(string), err))
		}
	}
	if len(h.Ports) == 0 && len(req.Requirements.Ports) > 0 {
		svc, err := p.ensurePortsService(ctx, cli, cc, ns, name, uid, req.Requirements.Ports)
		if err != nil {
			return fail(err)
		}
		h.Ports = svc
	}
	req.Report("waiting for the pods to be scheduled and to run")
	ips, err := p.waitRunning(ctx, cli, place, ns, name, h.Pods, cc.provisionTimeout())
	if err != nil {
		return fail(err)
	}
	secret := req.Secret
	if secret == "" && !fresh {
		secret = p.existingSecret(ctx, cli, h)
	}
	if secret == "" {
		if secret, err = nodeagent.NewSecret(); err != nil {
			return fail(err)
		}
	}
	ca, err := agenttls.LoadOrCreateCA(p.caDir(name), name)
	if err != nil {
		return fail(fmt.Errorf("kubernetes cluster %s: %w", name, err))
	}
	req.Report(fmt.Sprintf("starting the agent on %d pod(s)", n))
	nodes := make([]cloud.NodeInfo, n)
	err = cloud.EachNode(ctx, n, func(ctx context.Context, rank int) error {
		tr, err := p.transport(cli, h, rank)
		if err != nil {
			return err
		}
		home, err := tr.Home(ctx)
		if err != nil {
			return fmt.Errorf("node %d: %w", rank, err)
		}
		// The head's agent calls the workers' at their pod IPs, over TLS; the client reaches each through the
		// relay. Pods that all run on this machine (PodHome, kwok) share its loopback instead.
		host := ips[rank]
		if p.opts.PodHome != nil {
			host = "127.0.0.1"
		}
		addr, health, err := nodeagent.Deploy(ctx, tr, nodeagent.DeployOptions{Binary: bin, Dir: agentDir, Home: "~",
			Listen: net.JoinHostPort(host, "0"), Secret: secret, Fresh: fresh, CA: ca})
		if err != nil {
			return fmt.Errorf("node %d (pod %s): %w", rank, h.Pods[rank], err)
		}
		dir, _ := tr.Resolve(ctx, agentDir)
		// A pod has what it requested, not what its node's hardware (which the agent measures) has.
		res := health.Resources
		res.CPUs, res.MemoryGB = s.cpus, s.memoryGB
		if s.gpu != "" {
			res.Accelerators = map[string]float64{s.gpu: float64(s.gpus)}
		}
		nodes[rank] = cloud.NodeInfo{Rank: rank, InternalIP: ips[rank], AgentAddr: addr, Home: home, AgentDir: dir,
			Resources: res}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("kubernetes cluster %s: %w", name, err))
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return fail(err)
	}
	return &cloud.ClusterInfo{Cloud: Name, Region: kctx, Nodes: nodes, Secret: secret, CACert: string(ca.CertPEM), Handle: raw}, nil
}

// podConfig is kubernetes.pod_config (per context), which must be a mapping.
func (c contextConfig) podConfig() (map[string]any, error) {
	v, key, ok := c.get("pod_config")
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: %s must be a Pod (a mapping with spec:), not %T", c.origin(key), key, v)
	}
	return m, nil
}

// apiError types an API refusal for the failover loop: no permission is an *cloud.AuthError naming the
// namespace, anything else is returned as it is.
func (p *Provider) apiError(place cloud.Place, ns, what string, err error) error {
	if kubeapi.IsForbidden(err) || kubeapi.IsUnauthorized(err) {
		return &cloud.AuthError{Place: place, Reason: fmt.Sprintf("cannot %s in namespace %s (ask for the right, or set kubernetes.namespace to one you can write to)", what, ns), Err: err}
	}
	return fmt.Errorf("kubernetes context %s: %s: %w", place.Region, what, err)
}

// ensureService creates the headless Service (or finds it) and returns its UID, which the pods name as their
// owner.
func (p *Provider) ensureService(ctx context.Context, cli *kubeapi.Client, ns, cluster string) (string, error) {
	var svc struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	err := cli.Create(ctx, kubeapi.NSPath(ns, "services", ""), p.serviceObject(cluster), &svc)
	if kubeapi.IsConflict(err) {
		err = cli.Get(ctx, kubeapi.NSPath(ns, "services", p.objectBase(cluster)), &svc)
	}
	return svc.Metadata.UID, err
}

// waitRunning waits until every pod runs and returns their IPs in rank order.
func (p *Provider) waitRunning(ctx context.Context, cli *kubeapi.Client, place cloud.Place, ns, cluster string, names []string, timeout time.Duration) ([]string, error) {
	start := time.Now()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		pods, err := p.listPods(ctx, cli, ns, cluster)
		if err != nil {
			return nil, p.apiError(place, ns, "list pods", err)
		}
		byName := map[string]*pod{}
		for i := range pods {
			byName[pods[i].Metadata.Name] = &pods[i]
		}
		ips := make([]string, len(names))
		ready := true
		for rank, name := range names {
			pd := byName[name]
			if pd == nil {
				return nil, fmt.Errorf("pod %s disappeared while the cluster was starting", name)
			}
			if err := podProblem(place, pd, time.Since(start) > timeout); err != nil {
				return nil, err
			}
			if pd.Status.Phase != "Running" || pd.Status.PodIP == "" {
				ready = false
				continue
			}
			ips[rank] = pd.Status.PodIP
		}
		if ready {
			return ips, nil
		}
		if time.Since(start) > timeout+startTimeout {
			return nil, fmt.Errorf("the pods of %s did not run within %s", cluster, timeout+startTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// imagePullReasons are the waiting reasons of a container whose image cannot be had.
var imagePullReasons = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true}

// podProblem says what keeps a pod from running, as a typed error: unschedulable past the timeout (capacity),
// an image that cannot be pulled (invalid config), or a pod that ended.
func podProblem(place cloud.Place, pd *pod, timedOut bool) error {
	for _, cs := range pd.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && imagePullReasons[w.Reason] {
			return &cloud.InvalidConfigError{Place: place, Reason: fmt.Sprintf("pod %s cannot pull its image (%s): %s",
				pd.Metadata.Name, w.Reason, w.Message)}
		}
	}
	switch pd.Status.Phase {
	case "Failed", "Succeeded":
		return fmt.Errorf("pod %s ended (%s) while the cluster was starting: %s %s", pd.Metadata.Name, pd.Status.Phase,
			pd.Status.Reason, pd.Status.Message)
	case "Pending":
		for _, c := range pd.Status.Conditions {
			if c.Type == "PodScheduled" && c.Status == "False" && c.Reason == "Unschedulable" && timedOut {
				return &cloud.CapacityError{Place: place, Reason: fmt.Sprintf("pod %s could not be scheduled within "+
					"kubernetes.provision_timeout: %s", pd.Metadata.Name, c.Message)}
			}
		}
	}
	return nil
}

// existingSecret reads the secret the cluster's agents run with, from the first pod that has one.
func (p *Provider) existingSecret(ctx context.Context, cli *kubeapi.Client, h handle) string {
	for rank := range h.Pods {
		tr, err := p.transport(cli, h, rank)
		if err != nil {
			continue
		}
		var out strings.Builder
		if code, err := tr.Run(ctx, "cat "+agentDir+"/"+nodeagent.SecretFile, transport.RunOptions{Stdout: &out}); err == nil && code == 0 {
			if s := strings.TrimSpace(out.String()); s != "" {
				return s
			}
		}
	}
	return ""
}

func (p *Provider) transport(cli *kubeapi.Client, h handle, rank int) (*kubetransport.Transport, error) {
	return p.transportHome(cli, h, rank, "")
}

// transportHome is transport with the node's home when known ("": asked of the pod once).
func (p *Provider) transportHome(cli *kubeapi.Client, h handle, rank int, home string) (*kubetransport.Transport, error) {
	if rank < 0 || rank >= len(h.Pods) {
		return nil, fmt.Errorf("kubernetes: no pod for node %d in the cluster's record", rank)
	}
	opts := kubetransport.Options{Namespace: h.Namespace, Pod: h.Pods[rank], Container: containerName, Relay: h.Relay, Home: home}
	if p.opts.PodHome != nil {
		opts.Home = p.opts.PodHome(h.Pods[rank])
	}
	return kubetransport.New(cli, opts)
}

// Transport reaches the pod of the node of the given rank.
func (p *Provider) Transport(_ context.Context, info *cloud.ClusterInfo, rank int) (transport.Transport, error) {
	var h handle
	if err := json.Unmarshal(info.Handle, &h); err != nil {
		return nil, fmt.Errorf("kubernetes: the cluster's record has no pods: %v", err)
	}
	cli, err := p.client(h.Context)
	if err != nil {
		return nil, err
	}
	// The home the launch found saves an exec per transport.
	home := ""
	if rank >= 0 && rank < len(info.Nodes) {
		home = info.Nodes[rank].Home
	}
	return p.transportHome(cli, h, rank, home)
}

func (p *Provider) parseHandle(ref cloud.ClusterRef) (handle, error) {
	var h handle
	if err := json.Unmarshal(ref.Handle, &h); err != nil || h.Context == "" || h.Namespace == "" {
		return h, fmt.Errorf("kubernetes: cluster %s has no usable record (context and namespace): %v", ref.Name, err)
	}
	return h, nil
}

// places is where a cluster's objects are: its handle's context and namespace, or, without a handle, every
// allowed context's namespace.
func (p *Provider) places(ctx context.Context, ref cloud.ClusterRef) ([]handle, error) {
	if len(ref.Handle) > 0 {
		h, err := p.parseHandle(ref)
		return []handle{h}, err
	}
	kc, err := p.opts.Kubeconfig()
	if err != nil {
		return nil, err
	}
	cfg := config.FromContext(ctx)
	names, err := p.allowedContexts(cfg, kc)
	if err != nil {
		return nil, err
	}
	var out []handle
	for _, n := range names {
		cli, err := p.client(n)
		if err != nil {
			return nil, err
		}
		out = append(out, handle{Context: n, Namespace: contextConfig{cfg: cfg, name: n}.namespace(cli)})
	}
	return out, nil
}

// Query reports each node's pod: running, pending, stopped (its container ended: autostop), or gone.
func (p *Provider) Query(ctx context.Context, ref cloud.ClusterRef) ([]cloud.NodeState, error) {
	if len(ref.Handle) == 0 {
		return nil, nil // a cluster with no record of its pods: none were made for it
	}
	h, err := p.parseHandle(ref)
	if err != nil {
		return nil, err
	}
	cli, err := p.client(h.Context)
	if err != nil {
		return nil, err
	}
	pods, err := p.listPods(ctx, cli, h.Namespace, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("kubernetes context %s: list pods: %w", h.Context, err)
	}
	byName := map[string]*pod{}
	for i := range pods {
		byName[pods[i].Metadata.Name] = &pods[i]
	}
	states := make([]cloud.NodeState, len(h.Pods))
	for rank, name := range h.Pods {
		st := cloud.NodeState{Rank: rank, Status: cloud.NodeMissing, Reason: "pod " + name + " is gone"}
		if pd := byName[name]; pd != nil {
			switch {
			case pd.Metadata.DeletionTimestamp != nil:
				st.Reason = "pod " + name + " is being deleted"
			case pd.Status.Phase == "Running":
				st.Status, st.Reason = cloud.NodeRunning, ""
			case pd.Status.Phase == "Pending":
				st.Status, st.Reason = cloud.NodePending, "pod "+name+" is pending"
			default:
				st.Status, st.Reason = cloud.NodeStopped, "pod "+name+" "+strings.ToLower(pd.Status.Phase)
			}
		}
		states[rank] = st
	}
	return states, nil
}

// Terminate deletes the cluster's pods and Services; a cluster that is gone already is not an error. Without a
// handle (a launch that failed before recording one), it looks in every allowed context, by label.
func (p *Provider) Terminate(ctx context.Context, ref cloud.ClusterRef) error {
	places, err := p.places(ctx, ref)
	if err != nil {
		return err
	}
	for _, h := range places {
		cli, err := p.client(h.Context)
		if err != nil {
			return err
		}
		if err := p.terminate(ctx, cli, h.Namespace, ref.Name); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(p.caDir(ref.Name)); err != nil {
		return fmt.Errorf("kubernetes: remove the CA of %s: %w", ref.Name, err)
	}
	return nil
}

// caDir keeps a cluster's CA on this machine: $STIX_HOME/kubernetes/clusters/<name> (0700). Its key never
// enters a pod; the pods get the CA certificate and their own certificates (nodeagent.Deploy).
func (p *Provider) caDir(cluster string) string {
	return filepath.Join(p.opts.Home, "kubernetes", "clusters", cluster)
}

func (p *Provider) terminate(ctx context.Context, cli *kubeapi.Client, ns, cluster string) error {
	sel := p.selector(cluster)
	err := cli.Do(ctx, http.MethodDelete, kubeapi.Query(kubeapi.NSPath(ns, "pods", ""), "labelSelector", sel, "gracePeriodSeconds", "0"), nil, nil)
	if err != nil && !kubeapi.IsNotFound(err) {
		return fmt.Errorf("kubernetes: delete the pods of %s: %w", cluster, err)
	}
	var svcs struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := cli.Get(ctx, kubeapi.Query(kubeapi.NSPath(ns, "services", ""), "labelSelector", sel), &svcs); err != nil {
		return fmt.Errorf("kubernetes: list the services of %s: %w", cluster, err)
	}
	for _, s := range svcs.Items {
		if err := cli.Delete(ctx, kubeapi.NSPath(ns, "services", s.Metadata.Name)); err != nil {
			return fmt.Errorf("kubernetes: delete service %s: %w", s.Metadata.Name, err)
		}
	}
	return nil
}

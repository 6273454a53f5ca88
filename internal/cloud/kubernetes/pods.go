package kubernetes

import (
	"encoding/json"
	"fmt"
	"github.com/stix-run/stix/internal/lazyregexp"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/agent"
)

// Labels on every object stix makes: down finds a cluster's objects by them. LabelHome keeps apart the
// clusters of different STIX_HOMEs sharing a namespace.
const (
	LabelCluster = "stix.run/cluster"
	LabelHome    = "stix.run/home"
	LabelRank    = "stix.run/rank"
)

// containerName is the node container in each pod.
const containerName = "stix"

// agentDir is the agent's directory in a pod.
const agentDir = "~/.stix/agent"

// handle is ClusterInfo.Handle for Kubernetes clusters.
type handle struct {
	Context   string   `json:"context"`
	Namespace string   `json:"namespace"`
	Service   string   `json:"service"`
	Pods      []string `json:"pods"` // in rank order
	// Relay is the agent binary on the nodes, whose `dial` tunnels connections to the agents.
	Relay string `json:"relay"`
	// Ports is the Service exposing the task's ports, when it has any.
	Ports string `json:"ports,omitempty"`
}

var (
	notDNS   = lazyregexp.New(`[^a-z0-9-]+`)
	notLabel = lazyregexp.New(`[^A-Za-z0-9._-]+`)
)

// objectBase is the prefix of a cluster's object names: "stix-<cluster>-<home hash>", a DNS label (pods'
// hostnames and the Service's name must be).
func (p *Provider) objectBase(cluster string) string {
	c := strings.Trim(notDNS.Re().ReplaceAllString(strings.ToLower(cluster), "-"), "-")
	if len(c) > 40 {
		c = c[:40]
	}
	return "stix-" + c + "-" + p.ns
}

func (p *Provider) podName(cluster string, rank int) string {
	if rank == 0 {
		return p.objectBase(cluster) + "-head"
	}
	return p.objectBase(cluster) + "-worker" + strconv.Itoa(rank)
}

func (p *Provider) labels(cluster string) map[string]string {
	return map[string]string{LabelCluster: labelValue(cluster), LabelHome: p.ns}
}

// labelValue makes a cluster name a label value (at most 63 of [A-Za-z0-9._-]).
func labelValue(s string) string {
	s = notLabel.Re().ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-._")
}

func (p *Provider) selector(cluster string) string {
	return LabelCluster + "=" + labelValue(cluster) + "," + LabelHome + "=" + p.ns
}

// serviceObject is the cluster's headless Service: it gives the pods DNS names (<pod>.<service>) and owns them,
// so that deleting it removes whatever a failed teardown left.
func (p *Provider) serviceObject(cluster string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": p.objectBase(cluster), "labels": p.labels(cluster)},
		"spec": map[string]any{"clusterIP": "None", "selector": p.labels(cluster),
			"publishNotReadyAddresses": true},
	}
}

// containerScript is the node container's main process: it waits, and on SIGTERM (the agent's autostop ends
// the container so) leaves the autostop mark as the container's termination message, which the pod's status
// keeps after the container is gone.
var containerScript = `trap 'cat "$HOME/.stix/agent/` + agent.AutostopMarkFile + `" > /dev/termination-log 2>/dev/null; exit 0' TERM INT
while :; do sleep 3600 & wait $!; done`

// gpuPlacement is how pods find nodes with a GPU type: the label values that name it, per label key.
type gpuPlacement map[string][]string

// podObject is the pod of one node: the task's requests, the GPU placement, then kubernetes.pod_config merged in.
func (p *Provider) podObject(cluster string, rank int, uid, image string, s shape, place gpuPlacement, podConfig map[string]any) (map[string]any, error) {
	labels := p.labels(cluster)
	labels[LabelRank] = strconv.Itoa(rank)
	requests := map[string]any{"cpu": strconv.FormatFloat(s.cpus, 'f', -1, 64),
		"memory": strconv.FormatFloat(s.memoryGB, 'f', -1, 64) + "Gi"}
	resources := map[string]any{"requests": requests}
	if s.gpus > 0 {
		requests[GPUResource] = strconv.Itoa(s.gpus)
		resources["limits"] = map[string]any{GPUResource: strconv.Itoa(s.gpus)}
	}
	spec := map[string]any{
		"restartPolicy": "Never",
		"hostname":      p.podName(cluster, rank),
		"subdomain":     p.objectBase(cluster),
		"containers": []any{map[string]any{
			"name": containerName, "image": image, "command": []any{"/bin/sh", "-c", containerScript},
			"resources": resources,
		}},
	}
	if len(place) > 0 {
		var terms []any
		for key, values := range place {
			vs := make([]any, len(values))
			for i, v := range values {
				vs[i] = v
			}
			terms = append(terms, map[string]any{"matchExpressions": []any{
				map[string]any{"key": key, "operator": "In", "values": vs}}})
		}
		spec["affinity"] = map[string]any{"nodeAffinity": map[string]any{
			"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": terms}}}
	}
	meta := map[string]any{"name": p.podName(cluster, rank), "labels": labels}
	if uid != "" {
		meta["ownerReferences"] = []any{map[string]any{"apiVersion": "v1", "kind": "Service",
			"name": p.objectBase(cluster), "uid": uid}}
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
	if podConfig != nil {
		merged, err := mergePodConfig(pod, podConfig)
		if err != nil {
			return nil, err
		}
		pod = merged
		// What stix relies on stays stix's: its labels and names.
		m := pod["metadata"].(map[string]any)
		m["name"] = p.podName(cluster, rank)
		ls, _ := m["labels"].(map[string]any)
		if ls == nil {
			ls = map[string]any{}
		}
		for k, v := range labels {
			ls[k] = v
		}
		m["labels"] = ls
	}
	return pod, nil
}

// mergePodConfig merges kubernetes.pod_config into the pod as SkyPilot does: mappings merge key by key;
// the first container of pod_config merges into the node container; volumes, volumeMounts and env entries
// replace those of the same name or are added; other lists are appended to; scalars replace. It refuses a
// pod_config that is not a pod.
func mergePodConfig(pod, podConfig map[string]any) (map[string]any, error) {
	for k := range podConfig {
		switch k {
		case "apiVersion", "kind", "metadata", "spec":
		default:
			return nil, fmt.Errorf("kubernetes.pod_config: %q is not a field of a Pod (it has apiVersion, kind, metadata, spec)", k)
		}
	}
	if k, ok := podConfig["kind"]; ok && k != "Pod" {
		return nil, fmt.Errorf("kubernetes.pod_config: kind is %v; it must be a Pod", k)
	}
	// Round-trip through JSON: values from the configuration become plain JSON values, and pod stays unchanged.
	b, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	cb, err := json.Marshal(podConfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes.pod_config: %v", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return nil, err
	}
	if spec, ok := cfg["spec"]; ok {
		if _, ok := spec.(map[string]any); !ok {
			return nil, fmt.Errorf("kubernetes.pod_config: spec must be a mapping (a PodSpec)")
		}
	}
	if err := mergeMap(out, cfg, "kubernetes.pod_config"); err != nil {
		return nil, err
	}
	return out, nil
}

func mergeMap(dst, src map[string]any, path string) error {
	for k, v := range src {
		p := path + "." + k
		cur, exists := dst[k]
		switch sv := v.(type) {
		case map[string]any:
			if dm, ok := cur.(map[string]any); ok {
				if err := mergeMap(dm, sv, p); err != nil {
					return err
				}
				continue
			}
			if exists && cur != nil {
				return fmt.Errorf("%s: a mapping where the pod has %T", p, cur)
			}
			dst[k] = sv
		case []any:
			dl, ok := cur.([]any)
			if !exists || cur == nil {
				dst[k] = sv
				continue
			}
			if !ok {
				return fmt.Errorf("%s: a list where the pod has %T", p, cur)
			}
			switch k {
			case "containers", "initContainers":
				if len(sv) > 0 && len(dl) > 0 {
					dc, ok1 := dl[0].(map[string]any)
					sc, ok2 := sv[0].(map[string]any)
					if !ok1 || !ok2 {
						return fmt.Errorf("%s[0]: a container must be a mapping", p)
					}
					if err := mergeMap(dc, sc, p+"[0]"); err != nil {
						return err
					}
					dst[k] = append(dl, sv[1:]...)
					continue
				}
				dst[k] = append(dl, sv...)
			case "volumes", "volumeMounts", "env", "imagePullSecrets", "ports":
				dst[k] = mergeByName(dl, sv)
			default:
				dst[k] = append(dl, sv...)
			}
		default:
			switch cur.(type) {
			case map[string]any:
				return fmt.Errorf("%s: %v where the pod has a mapping", p, v)
			case []any:
				return fmt.Errorf("%s: %v where the pod has a list", p, v)
			}
			dst[k] = v
		}
	}
	return nil
}

// mergeByName replaces the entries of dst whose name an entry of src has, and appends the others.
func mergeByName(dst, src []any) []any {
	name := func(v any) string {
		if m, ok := v.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				return n
			}
		}
		return ""
	}
	for _, s := range src {
		n := name(s)
		replaced := false
		for i, d := range dst {
			if n != "" && name(d) == n {
				dst[i], replaced = s, true
				break
			}
		}
		if !replaced {
			dst = append(dst, s)
		}
	}
	return dst
}

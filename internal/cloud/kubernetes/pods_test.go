package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/testutil/kubetest"
)

func TestPodConfigMergesAsSkyPilot(t *testing.T) {
	p := New(Options{Home: "/h"})
	cfg := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"team": "ml"}, "name": "ignored"},
		"spec": map[string]any{
			"tolerations":      []any{map[string]any{"key": "gpu", "operator": "Exists"}},
			"imagePullSecrets": []any{map[string]any{"name": "regcred"}},
			"containers": []any{map[string]any{
				"env":          []any{map[string]any{"name": "A", "value": "1"}},
				"volumeMounts": []any{map[string]any{"name": "shm", "mountPath": "/dev/shm"}},
				"resources":    map[string]any{"limits": map[string]any{"memory": "64Gi"}},
			}},
			"volumes": []any{map[string]any{"name": "shm", "emptyDir": map[string]any{"medium": "Memory"}}},
		},
	}
	pod, err := p.podObject("c", 0, "", "img", shape{cpus: 2, memoryGB: 8, gpu: "H100", gpus: 8}, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pod)
	got := string(b)
	for _, want := range []string{`"team":"ml"`, `"stix.run/cluster":"c"`, `"name":"stix-c-`, `"key":"gpu"`, `"name":"regcred"`,
		`"mountPath":"/dev/shm"`, `"medium":"Memory"`, `"nvidia.com/gpu":"8"`, `"memory":"64Gi"`, `"image":"img"`,
		`"name":"A","value":"1"`} {
		if !strings.Contains(got, want) {
			t.Errorf("merged pod lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ignored") {
		t.Errorf("pod_config renamed the pod:\n%s", got)
	}
	// The merge leaves one container: the node's, with pod_config's first container merged in.
	if n := strings.Count(got, `"command":`); n != 1 {
		t.Errorf("%d containers with a command; want the one node container:\n%s", n, got)
	}
}

func TestPodConfigThatIsNoPodIsRefused(t *testing.T) {
	p := New(Options{Home: "/h"})
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"containers": []any{}}, `"containers" is not a field of a Pod`},
		{map[string]any{"kind": "Deployment"}, "must be a Pod"},
		{map[string]any{"spec": "x"}, "spec must be a mapping"},
		{map[string]any{"spec": map[string]any{"containers": "x"}}, "where the pod has a list"},
	} {
		_, err := p.podObject("c", 0, "", "img", shape{cpus: 1, memoryGB: 1}, nil, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pod_config %v: %v; want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestGPULabelForms(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3", "H100"},
		{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB", "A100-80GB"},
		{"cloud.google.com/gke-accelerator", "nvidia-tesla-a100", "A100"},
		{"cloud.google.com/gke-accelerator", "nvidia-l4", "L4"},
		{"skypilot.co/accelerator", "h100", "H100"},
		{"karpenter.k8s.aws/instance-gpu-name", "a10g", "A10G"},
	} {
		var n node
		n.Metadata.Labels = map[string]string{tc.key: tc.value}
		if got, _, _ := n.gpuType(); got != tc.want {
			t.Errorf("%s=%s: %q; want %q", tc.key, tc.value, got, tc.want)
		}
	}
}

func TestPodProblems(t *testing.T) {
	place := cloud.Place{Cloud: Name, Region: "ctx"}
	var pull pod
	pull.Metadata.Name = "p"
	pull.Status.Phase = "Pending"
	pull.Status.ContainerStatuses = []containerStatus{{Name: containerName}}
	pull.Status.ContainerStatuses[0].State.Waiting = &containerReason{Reason: "ImagePullBackOff", Message: `Back-off pulling image "nope:latest"`}
	var ice *cloud.InvalidConfigError
	if err := podProblem(place, &pull, false); !errors.As(err, &ice) || !strings.Contains(err.Error(), "nope:latest") {
		t.Errorf("image pull back-off: %v; want an invalid-config error naming the image", err)
	}
	var unsched pod
	unsched.Metadata.Name = "q"
	unsched.Status.Phase = "Pending"
	unsched.Status.Conditions = []podCondition{{"PodScheduled", "False", "Unschedulable",
		"0/1 nodes are available: 1 node(s) had untolerated taint {gpu: true}."}}
	if err := podProblem(place, &unsched, false); err != nil {
		t.Errorf("unschedulable within the timeout: %v; want to keep waiting", err)
	}
	var ce *cloud.CapacityError
	if err := podProblem(place, &unsched, true); !errors.As(err, &ce) || !strings.Contains(err.Error(), "untolerated taint") {
		t.Errorf("unschedulable past the timeout: %v; want a capacity error naming the taint", err)
	}
}

// A context whose API server does not answer is reported as such by check, without failing the others.
func TestCheckProbeUnreachable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config")
	os.WriteFile(file, []byte(kubetest.KubeconfigYAML("https://127.0.0.1:1", "ns", "gone", "t")), 0o600)
	got := probeContexts(context.Background(), []string{file}, []string{"gone", "unknown"})
	if len(got) != 1 || !strings.HasPrefix(got[0], "context gone: not reachable: ") {
		t.Fatalf("probe: %q; want one line saying context gone is not reachable", got)
	}
}

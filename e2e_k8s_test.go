package stix_test

import (
	"context"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/testutil/kubetest"
)

// k8sPlane is the Kubernetes control plane of the scripts in k8sScripts (nil without its binaries).
var k8sPlane *kubetest.Plane

const k8sScripts = "testdata/script-k8s"

// k8sScriptEnv points a script at the plane: its kubeconfig, and pod homes under its pod root (kwok runs every
// pod's exec on this machine).
func k8sScriptEnv(env *testscript.Env) {
	env.Setenv("KUBECONFIG", k8sPlane.Kubeconfig)
	env.Setenv("STIX_TEST_K8S_POD_HOMES", k8sPlane.PodRoot)
	env.Setenv("K8S_CONTEXT", k8sPlane.Context)
}

// TestKubernetesScripts runs the Kubernetes scripts on the test plane, whose fake nodes are two with 8 H100
// each (GPU feature discovery's label) and one with 4 L4 (GKE's label).
func TestKubernetesScripts(t *testing.T) {
	p := kubetest.Require(t, k8sPlane)
	ctx := context.Background()
	for _, n := range []kubetest.Node{
		{Name: "e2e-h100-a", Labels: map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, Capacity: map[string]string{"nvidia.com/gpu": "8"}},
		{Name: "e2e-h100-b", Labels: map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, Capacity: map[string]string{"nvidia.com/gpu": "8"}},
		{Name: "e2e-l4", Labels: map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"}, Capacity: map[string]string{"nvidia.com/gpu": "4"}},
	} {
		if err := p.AddNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.DeleteNode(context.Background(), n.Name) })
	}
	runScripts(t, k8sScripts, nil, false)
}

// k8sGone checks that no pod or service of a cluster is left in the plane's default namespace.
func k8sGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: k8sgone CLUSTER")
	}
	poll(ts, "the cluster's pods and services to go", func() (bool, error) {
		for _, res := range []string{"pods", "services"} {
			var list struct {
				Items []any `json:"items"`
			}
			if err := k8sPlane.Client.Get(context.Background(), kubeapi.Query(kubeapi.NSPath("default", res, ""),
				"labelSelector", "stix.run/cluster="+args[0]), &list); err != nil {
				return false, err
			}
			if len(list.Items) > 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

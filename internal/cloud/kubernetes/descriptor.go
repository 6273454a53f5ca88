// Package kubernetes is the provider whose nodes are pods on the user's Kubernetes clusters (`infra: k8s`,
// `k8s/<context>`): one pod per node (head and workers) behind a headless Service, CPU, memory and
// nvidia.com/gpu requests from the task, GPUs placed by the node labels SkyPilot reads, the agent deployed
// through the API server (package transport/kube). Each kubeconfig context is a region. Files: provider.go
// (contexts, feasibility), gpus.go (GPU labels, per-node counts), pods.go (the objects stix makes),
// provision.go (lifecycle), check.go (the credential check).
package kubernetes

import (
	"os"
	"path/filepath"

	"github.com/stix-run/stix/internal/agent/envknob"
	"github.com/stix-run/stix/internal/cloud"
)

// Descriptor declares Kubernetes: the user's own infra, used for the tasks that name it.
var Descriptor = cloud.Descriptor{
	Name:          Name,
	Display:       "Kubernetes",
	Aliases:       []string{"k8s"},
	Kind:          cloud.Owned,
	Check:         check,
	ContextsTitle: "Allowed contexts",
	New: func(cfg cloud.Config) (cloud.Provider, error) {
		opts := Options{Home: cfg.Home}
		if dir := envknob.KubernetesPodHomes.Get(); dir != "" {
			opts.PodHome = func(pod string) string {
				home := filepath.Join(dir, pod)
				os.MkdirAll(home, 0o755)
				return home
			}
		}
		return New(opts), nil
	},
}

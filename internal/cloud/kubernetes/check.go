package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/kubeapi"
)

// kubeconfig is the part of a kubeconfig file the check reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name string `yaml:"name"`
	} `yaml:"contexts"`
}

// check lists the contexts of the kubeconfig files kubectl would use: KUBECONFIG's list (missing
// files skipped, the first file naming a context or the current context wins), else ~/.kube/config. It then asks
// each context's API server (one read-only call each, in parallel, bounded by probeTimeout) whether it may create
// pods in its namespace, and says so in the detail; a context that does not answer does not disable the infra.
func check(ctx context.Context, e *credcheck.Env) credcheck.Result {
	var paths []string
	if v := e.Var("KUBECONFIG"); v != "" {
		for _, p := range filepath.SplitList(v) {
			if p != "" {
				paths = append(paths, e.Expand(p))
			}
		}
	} else if p := e.HomeFile(".kube", "config"); p != "" {
		paths = []string{p}
	}
	var contexts []string
	var current string
	found := 0
	for _, p := range paths {
		data, ok, err := e.Read(p)
		if err != nil {
			return credcheck.Disabled("kubeconfig: %v", err)
		}
		if !ok {
			continue
		}
		found++
		var kc kubeconfig
		if err := yaml.Unmarshal([]byte(data), &kc); err != nil {
			return credcheck.Disabled("kubeconfig %s is not valid YAML: %v", e.Show(p), err)
		}
		if current == "" {
			current = kc.CurrentContext
		}
		for _, c := range kc.Contexts {
			if c.Name != "" && !slices.Contains(contexts, c.Name) {
				contexts = append(contexts, c.Name)
			}
		}
	}
	shown := make([]string, len(paths))
	for i, p := range paths {
		shown[i] = e.Show(p)
	}
	switch {
	case len(paths) == 0:
		return credcheck.Disabled("no kubeconfig: set KUBECONFIG or create ~/.kube/config (e.g. with your cluster's " +
			"`get-credentials` command)")
	case found == 0:
		return credcheck.Disabled("no kubeconfig: %s does not exist; set KUBECONFIG or write ~/.kube/config (e.g. with your "+
			"cluster's `get-credentials` command)", strings.Join(shown, ", "))
	case len(contexts) == 0:
		return credcheck.Disabled("kubeconfig %s has no contexts: add one with `kubectl config set-context`", strings.Join(shown, ", "))
	}
	detail := "kubeconfig " + strings.Join(shown, ", ")
	if current != "" {
		detail += "; current context " + current
	}
	if probes := probeContexts(ctx, paths, contexts); len(probes) > 0 {
		detail += "; " + strings.Join(probes, "; ")
	}
	return credcheck.Enabled(detail, contexts...)
}

// probeTimeout bounds each context's API call in `stix check`.
const probeTimeout = 3 * time.Second

// probeContexts asks each context that names an API server whether it may create pods in its namespace
// (a SelfSubjectAccessReview: read-only), and returns one line per context probed, in order.
func probeContexts(ctx context.Context, paths, contexts []string) []string {
	// The files the check found, merged as kubectl merges them.
	list := strings.Join(paths, string(os.PathListSeparator))
	kc, err := kubeapi.LoadKubeconfig(func(k string) string {
		if k == "KUBECONFIG" {
			return list
		}
		return ""
	})
	if err != nil {
		return nil
	}
	lines := make([]string, len(contexts))
	var wg sync.WaitGroup
	for i, name := range contexts {
		cli, err := kc.NewClient(name)
		if err != nil {
			continue // a context with no usable cluster or user: the file check already listed it
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			lines[i] = "context " + name + ": " + canCreatePods(pctx, cli)
		}()
	}
	wg.Wait()
	var out []string
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// canCreatePods says whether the context's user may create pods in its namespace.
func canCreatePods(ctx context.Context, cli *kubeapi.Client) string {
	review := map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
		"spec": map[string]any{"resourceAttributes": map[string]any{"namespace": cli.Namespace, "verb": "create", "resource": "pods"}}}
	var out struct {
		Status struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		} `json:"status"`
	}
	if err := cli.Create(ctx, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, &out); err != nil {
		return "not reachable: " + err.Error()
	}
	if !out.Status.Allowed {
		return "cannot create pods in namespace " + cli.Namespace + " (set kubernetes.namespace to one you can write to)"
	}
	return "can create pods in namespace " + cli.Namespace
}

package kubernetes

import (
	"context"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// kubeconfig is the part of a kubeconfig file the check reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name string `yaml:"name"`
	} `yaml:"contexts"`
}

// check lists the contexts of the kubeconfig files kubectl would use: KUBECONFIG's list (missing
// files skipped, the first file naming a context or the current context wins), else ~/.kube/config. Whether a
// context's cluster answers is not checked: that needs the network.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
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
	return credcheck.Enabled(detail, contexts...)
}

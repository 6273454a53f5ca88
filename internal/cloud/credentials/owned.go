package credentials

import (
	"context"
	"fmt"
	"github.com/stix-run/stix/internal/cloud/sshpool"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kubeconfig is the part of a kubeconfig file the check reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name string `yaml:"name"`
	} `yaml:"contexts"`
}

// checkKubernetes lists the contexts of the kubeconfig files kubectl would use: KUBECONFIG's list (missing
// files skipped, the first file naming a context or the current context wins), else ~/.kube/config. Whether a
// context's cluster answers is not checked: that needs the network.
func checkKubernetes(_ context.Context, e *env) Result {
	var paths []string
	if v := e.getenv("KUBECONFIG"); v != "" {
		for _, p := range filepath.SplitList(v) {
			if p != "" {
				paths = append(paths, e.expand(p))
			}
		}
	} else if p := e.home(".kube", "config"); p != "" {
		paths = []string{p}
	}
	var contexts []string
	var current string
	found := 0
	for _, p := range paths {
		data, ok, err := e.read(p)
		if err != nil {
			return disabled("kubeconfig: %v", err)
		}
		if !ok {
			continue
		}
		found++
		var kc kubeconfig
		if err := yaml.Unmarshal([]byte(data), &kc); err != nil {
			return disabled("kubeconfig %s is not valid YAML: %v", e.show(p), err)
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
		shown[i] = e.show(p)
	}
	switch {
	case len(paths) == 0:
		return disabled("no kubeconfig: set KUBECONFIG or create ~/.kube/config (e.g. with your cluster's " +
			"`get-credentials` command)")
	case found == 0:
		return disabled("no kubeconfig: %s does not exist; set KUBECONFIG or write ~/.kube/config (e.g. with your "+
			"cluster's `get-credentials` command)", strings.Join(shown, ", "))
	case len(contexts) == 0:
		return disabled("kubeconfig %s has no contexts: add one with `kubectl config set-context`", strings.Join(shown, ", "))
	}
	detail := "kubeconfig " + strings.Join(shown, ", ")
	if current != "" {
		detail += "; current context " + current
	}
	return enabled(detail, contexts...)
}

// SSHNodePoolsFile is the file, in the stix home, that describes SSH node pools (SkyPilot's format).
const SSHNodePoolsFile = sshpool.FileName

// checkSSH lists the node pools of $STIX_HOME/ssh_node_pools.yaml, read by the same parser the provider uses
// (so a file `check` accepts is one `launch` can use). Whether the hosts answer is `stix ssh up`'s business.
func checkSSH(_ context.Context, e *env) Result {
	if e.StixHome == "" {
		return disabled("no stix home directory: set STIX_HOME or HOME")
	}
	path := filepath.Join(e.StixHome, SSHNodePoolsFile)
	data, ok, err := e.read(path)
	switch {
	case err != nil:
		return disabled("%v", err)
	case !ok:
		return disabled("no SSH node pools: describe your machines in %s, then run `stix ssh up`", e.show(path))
	}
	pools, err := sshpool.Parse(e.show(path), []byte(data), nil, sshpool.Options{})
	if err != nil {
		return disabled("%v", err)
	}
	var names []string
	for _, p := range pools {
		names = append(names, p.Name)
	}
	return enabled("node pools in "+e.show(path), names...)
}

// checkSlurm finds Slurm clusters two ways: SkyPilot's ~/.slurm/config, an SSH config whose Host entries are
// clusters reached through their login nodes, and a Slurm client on this machine (sinfo on PATH, or a slurm.conf
// at SLURM_CONF or /etc/slurm/slurm.conf), named by its ClusterName.
func checkSlurm(_ context.Context, e *env) Result {
	var clusters, where []string
	if p := e.home(".slurm", "config"); p != "" {
		data, ok, err := e.read(p)
		if err != nil {
			return disabled("%v", err)
		}
		if ok {
			hosts := sshConfigHosts(data)
			clusters = append(clusters, hosts...)
			if len(hosts) > 0 {
				where = append(where, "~/.slurm/config")
			}
		}
	}
	conf := e.expand(e.getenv("SLURM_CONF"))
	if conf == "" {
		conf = e.system("/etc/slurm/slurm.conf")
	}
	confData, confOK, _ := e.read(conf)
	sinfo := e.lookPath("sinfo")
	if confOK || sinfo != "" {
		name := "local"
		if confOK {
			where = append(where, e.show(conf))
			if n := parseINI(confData).get("", "clustername"); n != "" {
				name = n
			}
		}
		if sinfo != "" {
			where = append(where, "sinfo at "+sinfo)
		}
		if !slices.Contains(clusters, name) {
			clusters = append(clusters, name)
		}
	}
	if len(clusters) == 0 {
		return disabled("no Slurm cluster: list login nodes as `Host` entries in ~/.slurm/config, or install the " +
			"Slurm client here (sinfo on PATH, or a slurm.conf at SLURM_CONF or /etc/slurm/slurm.conf)")
	}
	return enabled(fmt.Sprintf("clusters from %s", strings.Join(where, ", ")), clusters...)
}

// sshConfigHosts returns the names of an SSH config's Host entries, without wildcard patterns.
func sshConfigHosts(data string) []string {
	var out []string
	for _, line := range strings.Split(data, "\n") {
		fields := strings.Fields(strings.ReplaceAll(line, "=", " "))
		if len(fields) < 2 || !strings.EqualFold(fields[0], "Host") {
			continue
		}
		for _, h := range fields[1:] {
			if strings.HasPrefix(h, "#") {
				break
			}
			if !strings.ContainsAny(h, "*?!") && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

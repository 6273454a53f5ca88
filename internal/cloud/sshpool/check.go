package sshpool

import (
	"context"
	"path/filepath"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// check lists the node pools of $STIX_HOME/ssh_node_pools.yaml, read by the same parser the provider uses
// (so a file `check` accepts is one `launch` can use). Whether the hosts answer is `stix ssh up`'s business.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	if e.StixHome == "" {
		return credcheck.Disabled("no stix home directory: set STIX_HOME or HOME")
	}
	path := filepath.Join(e.StixHome, FileName)
	data, ok, err := e.Read(path)
	switch {
	case err != nil:
		return credcheck.Disabled("%v", err)
	case !ok:
		return credcheck.Disabled("no SSH node pools: describe your machines in %s, then run `stix ssh up`", e.Show(path))
	}
	pools, err := Parse(e.Show(path), []byte(data), nil, Options{})
	if err != nil {
		return credcheck.Disabled("%v", err)
	}
	var names []string
	for _, p := range pools {
		names = append(names, p.Name)
	}
	return credcheck.Enabled("node pools in "+e.Show(path), names...)
}

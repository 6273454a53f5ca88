package slurm

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/cloud/credcheck"
)

// check finds Slurm clusters two ways: SkyPilot's ~/.slurm/config, an SSH config whose Host entries are
// clusters reached through their login nodes, and a Slurm client on this machine (sinfo on PATH, or a slurm.conf
// at SLURM_CONF or /etc/slurm/slurm.conf), named by its ClusterName.
func check(_ context.Context, e *credcheck.Env) credcheck.Result {
	var clusters, where []string
	if p := e.HomeFile(".slurm", "config"); p != "" {
		data, ok, err := e.Read(p)
		if err != nil {
			return credcheck.Disabled("%v", err)
		}
		if ok {
			hosts := sshConfigHosts(data)
			clusters = append(clusters, hosts...)
			if len(hosts) > 0 {
				where = append(where, "~/.slurm/config")
			}
		}
	}
	conf := e.Expand(e.Var("SLURM_CONF"))
	if conf == "" {
		conf = e.System("/etc/slurm/slurm.conf")
	}
	confData, confOK, _ := e.Read(conf)
	sinfo := e.LookPath("sinfo")
	if confOK || sinfo != "" {
		name := "local"
		if confOK {
			where = append(where, e.Show(conf))
			if n := credcheck.ParseINI(confData).Get("", "clustername"); n != "" {
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
		return credcheck.Disabled("no Slurm cluster: list login nodes as `Host` entries in ~/.slurm/config, or install the " +
			"Slurm client here (sinfo on PATH, or a slurm.conf at SLURM_CONF or /etc/slurm/slurm.conf)")
	}
	return credcheck.Enabled(fmt.Sprintf("clusters from %s", strings.Join(where, ", ")), clusters...)
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

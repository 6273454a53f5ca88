package status

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/stix-run/stix/internal/cli"
)

// endpointsRun is `status --endpoints CLUSTER` (a "PORT: ENDPOINT" line per exposed port, in port order) and
// `status --endpoint PORT CLUSTER` (that port's endpoint alone), as SkyPilot prints them. A cluster with no
// endpoint to show, or without the port asked for, fails (exit 1) saying so.
func endpointsRun(opts *StatusOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	name, port := opts.Clusters[0], 0
	if opts.Endpoint != nil {
		if port = *opts.Endpoint; port < 1 || port > 65535 {
			return cli.FlagErrorf("--endpoint %d: a port is 1 to 65535", port)
		}
	}
	eps, err := client.Endpoints(opts.Ctx, name, port)
	if err != nil {
		return err
	}
	if port != 0 {
		ep, ok := eps[port]
		if !ok {
			return fmt.Errorf("endpoint %d not found for cluster %q: its address is not known yet (a load balancer still being made?); try again shortly", port, name)
		}
		return opts.Output.Write(opts.IO, map[string]string{strconv.Itoa(port): ep}, func() error {
			_, err := fmt.Fprintln(opts.IO.Out, ep)
			return err
		})
	}
	if len(eps) == 0 {
		return fmt.Errorf("no endpoint found for cluster %q: it exposes no ports (resources.ports, or --ports at launch), or their addresses are not known yet", name)
	}
	ports := make([]int, 0, len(eps))
	byPort := make(map[string]string, len(eps))
	for p, ep := range eps {
		ports = append(ports, p)
		byPort[strconv.Itoa(p)] = ep
	}
	slices.Sort(ports)
	return opts.Output.Write(opts.IO, byPort, func() error {
		s := opts.IO
		for _, p := range ports {
			fmt.Fprintf(s.Out, "%s: %s\n", s.Paint(cli.Bold, strconv.Itoa(p)), s.Paint(cli.Cyan, eps[p]))
		}
		return nil
	})
}

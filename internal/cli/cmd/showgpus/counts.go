package showgpus

import (
	"fmt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// listAccelerators prints SkyPilot's COMMON_GPU and GOOGLE_TPU tables (and OTHER_GPU with -a).
func listAccelerators(opts *ShowGPUsOptions, all []api.AcceleratorCounts) error {
	if len(all) > 0 && len(all[0].Nodes) > 0 {
		return listNodeGPUs(opts, all)
	}
	rows := all
	if !opts.All {
		rows = nil
		for _, r := range all {
			if r.Group != api.GroupOtherGPU {
				rows = append(rows, r)
			}
		}
	}
	return opts.Output.Write(opts.IO, rows, func() error {
		first := true
		for _, group := range []string{api.GroupCommonGPU, api.GroupGoogleTPU, api.GroupOtherGPU} {
			t := cli.NewTable(opts.IO, group, "AVAILABLE_QUANTITIES")
			for _, r := range rows {
				if r.Group == group {
					t.AddRow(r.Name, r.Quantities())
				}
			}
			if t.Len() == 0 {
				continue
			}
			if !first {
				fmt.Fprintln(opts.IO.Out)
			}
			first = false
			if err := t.Render(); err != nil {
				return err
			}
		}
		if !opts.All {
			fmt.Fprintln(opts.IO.ErrOut, "\nHint: use -a/--all to see all accelerators (including non-common ones).")
		}
		return nil
	})
}

// listNodeGPUs prints the real-time view of the user's own nodes (`--infra k8s`), as SkyPilot does: each GPU
// type with the quantities a node can be asked for and how many are free, then each node.
func listNodeGPUs(opts *ShowGPUsOptions, rows []api.AcceleratorCounts) error {
	return opts.Output.Write(opts.IO, rows, func() error {
		t := cli.NewTable(opts.IO, "GPU", "REQUESTABLE_QTY_PER_NODE", "UTILIZATION")
		for _, r := range rows {
			free, total := 0, 0
			for _, n := range r.Nodes {
				free, total = free+n.Free, total+n.Total
			}
			t.AddRow(r.Name, r.Quantities(), fmt.Sprintf("%d of %d free", free, total))
		}
		fmt.Fprintln(opts.IO.Out, "Kubernetes GPUs")
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.Out, "\nKubernetes per-node GPU availability")
		nt := cli.NewTable(opts.IO, "CONTEXT", "NODE", "GPU", "UTILIZATION")
		for _, r := range rows {
			for _, n := range r.Nodes {
				nt.AddRow(n.Context, n.Node, r.Name, fmt.Sprintf("%d of %d free", n.Free, n.Total))
			}
		}
		return nt.Render()
	})
}

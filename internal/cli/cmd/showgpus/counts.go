package showgpus

import (
	"fmt"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// listAccelerators prints SkyPilot's COMMON_GPU and GOOGLE_TPU tables (and OTHER_GPU with -a).
func listAccelerators(opts *ShowGPUsOptions, all []api.AcceleratorCounts) error {
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

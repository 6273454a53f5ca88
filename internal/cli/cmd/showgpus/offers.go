package showgpus

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cli"
)

// showOffers prints a table per accelerator, in the order the core found them (the exact name first, then
// names containing it), each table's rows as the core sorted them.
func showOffers(opts *ShowGPUsOptions, all []api.Offer) error {
	return opts.Output.Write(opts.IO, all, func() error {
		for i := 0; i < len(all); {
			j := i + 1
			for j < len(all) && strings.EqualFold(all[j].Accelerator, all[i].Accelerator) {
				j++
			}
			if i > 0 {
				fmt.Fprintln(opts.IO.Out)
			}
			t := cli.NewTable(opts.IO, "GPU", "QTY", "CLOUD", "INSTANCE_TYPE", "DEVICE_MEM", "vCPUs", "HOST_MEM",
				"HOURLY_PRICE", "HOURLY_SPOT_PRICE", "REGION")
			for _, o := range all[i:j] {
				t.AddRow(o.Accelerator, formatCount(o.Count), catalog.DisplayName(o.Cloud), o.InstanceType,
					gigabytes(o.DeviceMemoryGiB), vcpus(o.VCPUs), gigabytes(o.MemoryGiB), price(o.HourlyPrice),
					price(o.HourlySpotPrice), o.Region)
			}
			if err := t.Render(); err != nil {
				return err
			}
			i = j
		}
		return nil
	})
}

// formatCount writes a count without a needless fraction: 8, 0.5.
func formatCount(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }

// price, gigabytes and vcpus format cells as SkyPilot does: "$ 32.773", "40GB", "96" (or "-" when unknown).
func price(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("$ %.3f", *p)
}

func gigabytes(g float64) string {
	if g <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fGB", g)
}

func vcpus(n float64) string {
	switch {
	case n <= 0:
		return "-"
	case n == math.Trunc(n):
		return fmt.Sprintf("%.0f", n)
	}
	return fmt.Sprintf("%.1f", n)
}

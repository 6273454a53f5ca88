// Package showgpus implements `stix show-gpus`: the accelerators on offer and their prices.
package showgpus

import (
	"context"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/spec"
)

// ShowGPUsOptions are the parsed flags and arguments of `stix show-gpus`.
type ShowGPUsOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Accelerator is the ACCELERATOR[:COUNT] argument's name (e.g. "A100"); empty lists the common ones.
	Accelerator string
	// Count is its COUNT; 0 means any count.
	Count int
	// All (-a) lists every accelerator of every cloud in the catalog, enabled or not; only without an
	// ACCELERATOR. Without it only the enabled clouds (`stix check`) count, unless --infra names a cloud.
	All bool
	// Infra limits the query: a cloud or cloud/region ("aws", "aws/us-east-1", "k8s"). The hidden, deprecated
	// --cloud and --region are folded into it.
	Infra string
	// AllRegions shows prices per region rather than the cheapest; needs an ACCELERATOR.
	AllRegions bool
	Output     cli.OutputFormat
}

// NewCmdShowGPUs builds `stix show-gpus`. runF, when not nil, replaces the real run (the test seam).
func NewCmdShowGPUs(f *cli.Factory, runF func(*ShowGPUsOptions) error) *cobra.Command {
	opts := &ShowGPUsOptions{IO: f.IOStreams, Client: f.Client}
	var cloud, region string
	cmd := &cobra.Command{
		Use:   "show-gpus [flags] [ACCELERATOR[:COUNT]]",
		Short: "Show the GPUs, TPUs and other accelerators on offer, with prices",
		Long: "Show accelerators and their prices. The names and counts shown are what --gpus and the YAML's\n" +
			"accelerators accept: if 8x V100 is listed, V100:8 works. With ACCELERATOR, show each instance type\n" +
			"offering it (and accelerators whose name contains it); prices are the cheapest region's unless\n" +
			"--all-regions is given. GCP prices include the host VM stix would attach the GPU to. Only the\n" +
			"clouds enabled by `stix check` are counted, unless --infra names a cloud or -a/--all is given.",
		Example: "  stix show-gpus\n  stix show-gpus A100:8\n  stix show-gpus H100 --all-regions\n  stix show-gpus --infra aws -a",
		Args:    cli.MaxArgs(1, "ACCELERATOR[:COUNT]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				var err error
				if opts.Accelerator, opts.Count, err = parseAccelerator(args[0]); err != nil {
					return err
				}
			}
			fs := cmd.Flags()
			if fs.Changed("cloud") || fs.Changed("region") {
				if fs.Changed("infra") {
					return cli.FlagErrorf("cannot use --infra together with --cloud or --region: use --infra alone")
				}
				if region != "" && cloud == "" {
					return cli.FlagErrorf("--region needs --cloud; better, use --infra CLOUD/REGION")
				}
				opts.Infra = strings.TrimSuffix(cloud+"/"+region, "/")
			}
			switch {
			case opts.AllRegions && opts.Accelerator == "":
				return cli.FlagErrorf("--all-regions needs an ACCELERATOR")
			case opts.AllRegions && strings.Contains(opts.Infra, "/"):
				return cli.FlagErrorf("--all-regions cannot be used with a region in --infra")
			case opts.All && opts.Accelerator != "":
				return cli.FlagErrorf("-a/--all lists every accelerator and takes no ACCELERATOR")
			}
			if opts.Infra != "" {
				if _, err := spec.ParseInfra(opts.Infra); err != nil {
					return cli.FlagErrorf("--infra: %v", err)
				}
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return showGPUsRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Show every accelerator of every cloud in the catalog, enabled or not")
	fs.StringVar(&opts.Infra, "infra", "", "Limit to this infra: a cloud or cloud/region, e.g. aws, aws/us-east-1, k8s")
	fs.StringVar(&cloud, "cloud", "", "Deprecated: use --infra")
	fs.StringVar(&region, "region", "", "Deprecated: use --infra")
	_ = fs.MarkHidden("cloud")
	_ = fs.MarkHidden("region")
	fs.BoolVar(&opts.AllRegions, "all-regions", false, "Show prices and instance types of ACCELERATOR in every region")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

// parseAccelerator splits NAME[:COUNT]; COUNT must be a positive integer.
func parseAccelerator(s string) (string, int, error) {
	name, count, hasCount := strings.Cut(s, ":")
	if name == "" {
		return "", 0, cli.FlagErrorf("invalid accelerator %q: expected NAME or NAME:COUNT, e.g. A100:8", s)
	}
	if !hasCount {
		return name, 0, nil
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return "", 0, cli.FlagErrorf("invalid accelerator %q: COUNT must be a positive integer, e.g. A100:8", s)
	}
	return name, n, nil
}

// showGPUsRun lists accelerators (no ACCELERATOR) or one accelerator's offers.
func showGPUsRun(opts *ShowGPUsOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	q := api.GPUQuery{Name: opts.Accelerator, Count: opts.Count, Infra: opts.Infra, AllClouds: opts.All,
		AllRegions: opts.AllRegions}
	// Kubernetes has no catalog of offers: its view is its nodes' GPUs, filtered by ACCELERATOR when given.
	if opts.Accelerator == "" || isKubernetes(opts.Infra) {
		rows, err := client.Accelerators(opts.Ctx, q)
		if err != nil {
			return err
		}
		return listAccelerators(opts, rows)
	}
	offers, err := client.Offers(opts.Ctx, q)
	if err != nil {
		return err
	}
	return showOffers(opts, offers)
}

// isKubernetes reports whether --infra names Kubernetes ("k8s", "kubernetes/ctx").
func isKubernetes(infra string) bool {
	cloud, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(infra)), "/")
	return cloud == "k8s" || cloud == "kubernetes"
}

// Package check implements `stix check`: which infrastructure is usable with the credentials at hand.
package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cloud/credentials"
)

// CheckOptions are the parsed flags and arguments of `stix check`.
type CheckOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Infra names the clouds or infra to check (aws, gcp, k8s, ssh, local, ...); empty checks them all.
	Infra     []string
	Verbose   bool   // -v: also show the credentials in use, and confirm them with the providers that can
	Workspace string // -w: check only this workspace
}

// DefaultWorkspace is the only workspace stix has so far (SkyPilot's default one).
const DefaultWorkspace = "default"

// NewCmdCheck builds `stix check`. runF, when not nil, replaces the real run (the test seam).
func NewCmdCheck(f *cli.Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "check [flags] [INFRA]...",
		Short: "Check which clouds and infrastructure are usable",
		Long: "Check the credentials of every supported cloud and infrastructure (or only those named) and say,\n" +
			"for each one that is not usable, why and how to fix it. The result is cached and limits where\n" +
			"tasks may run. Infra: " + strings.Join(credentials.Names(), ", ") + " (k8s for kubernetes).",
		Example: "  stix check\n  stix check aws gcp\n  stix check -v k8s",
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if _, ok := credentials.Canonical(a); !ok {
					return cli.FlagErrorf("unknown infra %q: stix check knows %s (k8s for kubernetes)", a,
						strings.Join(credentials.Names(), ", "))
				}
			}
			opts.Infra = args
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "Show the credentials in use, and confirm them with each cloud's API (one read-only call)")
	fs.StringVarP(&opts.Workspace, "workspace", "w", "", "Check only this workspace")
	return cmd
}

// checkRun checks the infra, prints a line per infra and the enabled set; the core caches the set. Disabled
// infra is not a failure (exit 0, as in SkyPilot); a cache that cannot be written is.
func checkRun(opts *CheckOptions) error {
	if opts.Workspace != "" && opts.Workspace != DefaultWorkspace {
		return fmt.Errorf("workspace %q not found: stix has only the %q workspace", opts.Workspace, DefaultWorkspace)
	}
	client, err := opts.Client()
	if err != nil {
		return err
	}
	s := opts.IO
	fmt.Fprintln(s.ErrOut, "Checking credentials to enable infra for stix.")
	res, err := api.Wait(client.Check(opts.Ctx, opts.Infra, opts.Verbose))
	if err != nil {
		return err
	}
	out := s.Out
	anyDisabled := false
	for _, r := range res.Results {
		printResult(s, out, r, opts.Verbose)
		anyDisabled = anyDisabled || !r.Enabled
	}
	if res.SaveError != "" {
		return errors.New(res.SaveError)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, s.Paint(cli.Green, "🎉 Enabled infra 🎉"))
	if len(res.Enabled) == 0 {
		fmt.Fprintln(out, "  No infra enabled.")
	}
	for _, n := range res.Enabled {
		fmt.Fprintln(out, "  "+s.Paint(cli.Green, catalog.DisplayName(n)))
	}
	if anyDisabled {
		fmt.Fprintln(s.ErrOut, "\n"+s.Paint(cli.Dim, "To enable infra, follow the hints above and rerun: ")+
			s.Paint(cli.Bold, "stix check"))
	}
	return nil
}

// printResult writes one infra's lines: "  ✔ AWS: enabled" or "  ✘ GCP: disabled" with the reason, its
// contexts (Kubernetes, SSH pools, Slurm clusters), and with -v the credentials in use.
func printResult(s *cli.IOStreams, w io.Writer, r api.InfraCheck, verbose bool) {
	name := catalog.DisplayName(r.Infra)
	if r.Enabled {
		fmt.Fprintln(w, "  "+s.Paint(cli.Green, "✔ "+name+": enabled"))
		if verbose && r.Detail != "" {
			fmt.Fprintln(w, "    Using "+r.Detail)
		}
		if r.Reason != "" {
			fmt.Fprintln(w, "    Hint: "+s.Paint(cli.Yellow, r.Reason))
		}
	} else {
		fmt.Fprintln(w, "  "+s.Paint(cli.Dim, "✘ "+name+": disabled"))
		fmt.Fprintln(w, "    Reason: "+r.Reason)
	}
	if len(r.Contexts) > 0 {
		fmt.Fprintf(w, "    %s:\n", credentials.ContextsTitle(r.Infra))
		for i, c := range r.Contexts {
			branch := "├── "
			if i == len(r.Contexts)-1 {
				branch = "└── "
			}
			fmt.Fprintln(w, "    "+branch+c)
		}
	}
}

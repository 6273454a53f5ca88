// Package ls implements `stix storage ls`: list the storage objects stix manages.
package ls

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// LsOptions are the parsed flags and arguments of `stix storage ls`.
type LsOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)
	Now    func() time.Time

	Verbose bool
	Output  cli.OutputFormat
}

// NewCmdLs builds `stix storage ls`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLs(f *cli.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "ls [flags]",
		Short: "List storage objects managed by stix",
		Long: "List the buckets that tasks' file_mounts made or used: NAME, when the last command used it (UPDATED),\n" +
			"its STORE, that COMMAND and its STATUS. With -v: every column in full, with the sources, the endpoint,\n" +
			"whether stix created the bucket (only those are ever deleted) and whether it outlives its cluster.",
		Example: "  stix storage ls\n  stix storage ls -v\n  stix storage ls -o json",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "Show all information in full")
	cli.AddOutputFlag(cmd, &opts.Output)
	return cmd
}

// commandWidth is how much of the last command the table shows without -v.
const commandWidth = 40

func lsRun(opts *LsOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := client.StorageList(opts.Ctx)
	if err != nil {
		return err
	}
	now := opts.Now()
	return opts.Output.Write(opts.IO, list, func() error {
		if len(list) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "No existing storage.")
			return nil
		}
		headers := []string{"NAME", "UPDATED", "STORE", "COMMAND", "STATUS"}
		if opts.Verbose {
			headers = append(headers, "SOURCE", "ENDPOINT", "CREATED BY STIX", "PERSISTENT", "USER", "CLUSTER")
		}
		t := cli.NewTable(opts.IO, headers...)
		for _, s := range list {
			row := []string{s.Name, cli.RelativeTime(now, s.UpdatedAt), storeName(s.Store), command(s.Command, opts.Verbose), s.Status}
			if opts.Verbose {
				row = append(row, dash(strings.Join(s.Sources, ", ")), dash(s.Endpoint), yesNo(s.Managed), yesNo(s.Persistent), s.User, dash(s.Cluster))
			}
			t.AddRow(row...)
		}
		return t.Render()
	})
}

// storeName is the store as SkyPilot shows it.
func storeName(s string) string {
	switch s {
	case "s3":
		return "S3"
	case "gcs":
		return "GCS"
	case "r2":
		return "R2"
	}
	return strings.ToUpper(s)
}

func command(c string, full bool) string {
	if c == "" {
		return "-"
	}
	if !full && len(c) > commandWidth {
		return c[:commandWidth-3] + "..."
	}
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

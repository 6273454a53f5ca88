// Package delete implements `stix storage delete`: delete storage objects and their buckets.
package delete

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// DeleteOptions are the parsed flags and arguments of `stix storage delete`. Exactly one of Names and All is set.
type DeleteOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	// Names are storage names or glob patterns.
	Names []string
	All   bool
	Yes   bool
	Async bool
}

// NewCmdDelete builds `stix storage delete`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDelete(f *cli.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "delete [flags] [NAME]...",
		Short: "Delete storage objects",
		Long: "Delete storage objects by name (or glob), or all of yours with -a. A bucket stix created is deleted with\n" +
			"everything in it; a bucket stix did not create is never deleted: only its record is removed. A bucket\n" +
			"that a live cluster's launch used is refused until that cluster is down.",
		Example: "  stix storage delete imagenet cifar10\n  stix storage delete 'imagenet*'\n  stix storage delete -a",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.Names = args
			if (len(args) > 0) == opts.All {
				return cli.FlagErrorf("give exactly one of NAME... and -a/--all")
			}
			if runF != nil {
				return runF(opts)
			}
			return deleteRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Delete all storage objects")
	cli.AddYes(fs, &opts.Yes)
	cli.AddAsync(fs, &opts.Async)
	return cmd
}

func deleteRun(opts *DeleteOptions) error {
	io := opts.IO
	client, err := opts.Client()
	if err != nil {
		return err
	}
	if err := cli.CheckAsync(opts.Async, client); err != nil {
		return err
	}
	if opts.All {
		list, err := client.StorageList(opts.Ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(io.ErrOut, "No storage to delete.")
			return nil
		}
	}
	if !opts.Yes {
		what := "all your storage"
		if !opts.All {
			what = fmt.Sprintf("%d storage(s): %s", len(opts.Names), strings.Join(opts.Names, ", "))
		}
		if err := cli.ConfirmOrAbort(io, fmt.Sprintf("Deleting %s. Proceed?", what)); err != nil {
			return err
		}
	}
	op, err := client.StorageDelete(opts.Ctx, api.StorageDeleteRequest{Names: opts.Names, All: opts.All})
	if err != nil {
		return err
	}
	if opts.Async {
		fmt.Fprintln(io.ErrOut, cli.Submitted(io, "storage delete", op.ID))
		return nil
	}
	outcomes, err := cli.Watch(cli.NewProgress(io), op)
	if err != nil {
		return err // it names each bucket that was not deleted, and why
	}
	if len(outcomes) == 0 {
		fmt.Fprintln(io.ErrOut, "No storage matched.")
	}
	return nil
}

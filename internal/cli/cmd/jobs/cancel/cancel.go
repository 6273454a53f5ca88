// Package cancel implements `stix jobs cancel`: cancel managed jobs.
package cancel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// CancelOptions are the parsed flags and arguments of `stix jobs cancel`. Exactly one of JobIDs, Name, Pool and
// All/AllUsers is set.
type CancelOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	JobIDs   []int
	Name     string // -n: the job with this name
	Pool     string // -p: every job in this pool
	All      bool   // -a: all of the user's managed jobs
	AllUsers bool   // -u: every user's managed jobs
	Yes      bool
}

// NewCmdCancel builds `stix jobs cancel`. runF, when not nil, replaces the real run (the test seam).
func NewCmdCancel(f *cli.Factory, runF func(*CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{IO: f.IOStreams, Client: f.ControllerClient}
	cmd := &cobra.Command{
		Use:   "cancel [flags] [JOB_ID]...",
		Short: "Cancel managed jobs",
		Long: "Cancel managed jobs given by ID, by name (-n), by pool (-p), or all of them (-a, or -u for all users).\n" +
			"A job that has already finished, or that does not exist, is skipped with a message (exit 0, as SkyPilot).",
		Example: "  stix jobs cancel 1 2 3\n  stix jobs cancel -n train\n  stix jobs cancel -p gpus\n  stix jobs cancel -a -y",
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.JobIDs, err = cli.ParseInts(args, "job ID"); err != nil {
				return err
			}
			n := 0
			for _, set := range []bool{len(args) > 0, opts.Name != "", opts.Pool != "", opts.All || opts.AllUsers} {
				if set {
					n++
				}
			}
			if n != 1 {
				return cli.FlagErrorf("give exactly one of JOB_ID..., -n/--name, -p/--pool, or -a/--all (-u/--all-users)")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return cancelRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Name, "name", "n", "", "Cancel the managed job with this name")
	fs.StringVarP(&opts.Pool, "pool", "p", "", "Cancel the managed jobs in this pool")
	fs.BoolVarP(&opts.All, "all", "a", false, "Cancel all of your managed jobs")
	fs.BoolVarP(&opts.AllUsers, "all-users", "u", false, "Cancel the managed jobs of all users")
	cli.AddYes(fs, &opts.Yes)
	return cmd
}

func cancelRun(opts *CancelOptions) error {
	req := api.JobsCancelRequest{Name: opts.Name, Pool: opts.Pool, All: opts.All || opts.AllUsers}
	for _, id := range opts.JobIDs {
		req.IDs = append(req.IDs, int64(id))
	}
	if !opts.Yes {
		if err := cli.ConfirmOrAbort(opts.IO, question(opts)); err != nil {
			return err
		}
	}
	client, err := opts.Client()
	if err != nil {
		return err
	}
	ctx := opts.Ctx
	if opts.AllUsers {
		ctx = api.WithAllUsers(ctx)
	}
	outcomes, err := api.Wait(client.JobsCancel(ctx, req))
	var nf *api.ManagedJobNotFoundError
	switch {
	case errors.As(err, &nf):
		// As SkyPilot: nothing to cancel is not a failure; say why.
		fmt.Fprintln(opts.IO.ErrOut, nf.Error())
		fmt.Fprintln(opts.IO.ErrOut, "No job to cancel.")
		return nil
	case err != nil:
		return err
	}
	var cancelled []string
	for _, o := range outcomes {
		switch {
		case o.Status == api.ManagedCancelling || o.Status == api.ManagedCancelled && o.Message == "":
			cancelled = append(cancelled, fmt.Sprint(o.ID))
		case o.Status == "":
			fmt.Fprintf(opts.IO.ErrOut, "Managed job %d not found. Skipped.%s\n", o.ID, suffix(o.Message))
		default:
			fmt.Fprintf(opts.IO.ErrOut, "Managed job %d is already in terminal state %s. Skipped.%s\n", o.ID, o.Status, suffix(o.Message))
		}
	}
	switch len(cancelled) {
	case 0:
		fmt.Fprintln(opts.IO.ErrOut, "No job to cancel.")
	case 1:
		fmt.Fprintf(opts.IO.ErrOut, "Managed job with ID %s is scheduled to be cancelled.\n", cancelled[0])
	default:
		fmt.Fprintf(opts.IO.ErrOut, "Managed jobs with IDs %s are scheduled to be cancelled.\n", strings.Join(cancelled, ", "))
	}
	return nil
}

// question is SkyPilot's confirmation for what is about to be cancelled.
func question(opts *CancelOptions) string {
	switch {
	case opts.Name != "":
		return fmt.Sprintf("Cancelling managed job with name '%s'. Proceed?", opts.Name)
	case opts.Pool != "":
		return fmt.Sprintf("Cancelling managed jobs in pool '%s'. Proceed?", opts.Pool)
	case opts.AllUsers:
		return "Cancelling all users' managed jobs. Proceed?"
	case opts.All:
		return "Cancelling all your managed jobs. Proceed?"
	}
	ids := make([]string, len(opts.JobIDs))
	for i, id := range opts.JobIDs {
		ids[i] = fmt.Sprint(id)
	}
	if len(ids) == 1 {
		return fmt.Sprintf("Cancelling managed job with ID %s. Proceed?", ids[0])
	}
	return fmt.Sprintf("Cancelling managed jobs with IDs %s. Proceed?", strings.Join(ids, ","))
}

// suffix adds the controller's explanation, when it gave one.
func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

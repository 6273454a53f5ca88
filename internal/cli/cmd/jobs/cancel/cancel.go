// Package cancel implements `stix jobs cancel`: cancel managed jobs.
package cancel

import (
	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

// CancelOptions are the parsed flags and arguments of `stix jobs cancel`. Exactly one of JobIDs, Name, Pool and
// All/AllUsers is set.
type CancelOptions struct {
	IO *cli.IOStreams

	JobIDs   []int
	Name     string // -n: the job with this name
	Pool     string // -p: every job in this pool
	All      bool   // -a: all of the user's managed jobs
	AllUsers bool   // -u: every user's managed jobs
	Yes      bool
}

// NewCmdCancel builds `stix jobs cancel`. runF, when not nil, replaces the real run (the test seam).
func NewCmdCancel(f *cli.Factory, runF func(*CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "cancel [flags] [JOB_ID]...",
		Short:   "Cancel managed jobs",
		Long:    "Cancel managed jobs given by ID, by name (-n), by pool (-p), or all of them (-a, or -u for all users).",
		Example: "  stix jobs cancel 1 2 3\n  stix jobs cancel -n train\n  stix jobs cancel -a -y",
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
	return cli.NotImplemented("jobs cancel")
}

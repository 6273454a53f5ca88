// Package logs implements `stix serve logs`: tail or download the logs of a service's parts.
package logs

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/logsync"
)

// LogsOptions are the parsed flags and arguments of `stix serve logs`. Tailing needs exactly one target
// (Controller, LoadBalancer or one replica); SyncDown accepts any mix, and none means all of them.
type LogsOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	ServiceName  string
	ReplicaIDs   []int
	Controller   bool
	LoadBalancer bool
	SyncDown     bool // -s: download instead of tailing
	Follow       bool // --follow (default) / --no-follow; --tail turns following off, as in SkyPilot
	// Tail is --tail N; nil prints everything.
	Tail *int
	// LocalDir is where --sync-down writes (logsync.LocalDir, ~/sky_logs, when empty); Now names the download.
	LocalDir string
	Now      func() time.Time
}

// NewCmdLogs builds `stix serve logs`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogs(f *cli.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Client: f.ControllerClient, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "logs [flags] SERVICE_NAME [REPLICA_ID]...",
		Short: "Tail or download the logs of a service",
		Long: "Tail the logs of one part of a service (the controller, the load balancer or one replica), or\n" +
			"download the logs of several parts with -s/--sync-down: into ~/sky_logs/service/NAME_TIMESTAMP/, one\n" +
			"file per part (controller.log, load_balancer.log, replica_ID.log); all parts when none is named.",
		Example: "  stix serve logs --controller llm\n  stix serve logs llm 1\n  stix serve logs --tail 100 --load-balancer llm\n  stix serve logs -s llm 1 3 --controller",
		Args:    cli.MinArgs(1, "SERVICE_NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.ServiceName = args[0]
			var err error
			if opts.ReplicaIDs, err = cli.ParseInts(args[1:], "replica ID"); err != nil {
				return err
			}
			if opts.Tail != nil {
				if *opts.Tail < 0 {
					return cli.FlagErrorf("--tail must be 0 or more, got %d", *opts.Tail)
				}
				opts.Follow = false
			}
			if !opts.SyncDown {
				targets := len(opts.ReplicaIDs)
				for _, on := range []bool{opts.Controller, opts.LoadBalancer} {
					if on {
						targets++
					}
				}
				switch {
				case targets == 0:
					return cli.FlagErrorf("name what to tail: --controller, --load-balancer or a REPLICA_ID")
				case targets > 1:
					return cli.FlagErrorf("can tail only one of the controller, the load balancer or one replica; use -s/--sync-down to download several")
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return logsRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.Controller, "controller", false, "The controller's logs")
	fs.BoolVar(&opts.LoadBalancer, "load-balancer", false, "The load balancer's logs")
	fs.BoolVarP(&opts.SyncDown, "sync-down", "s", false, "Download the logs (all parts unless narrowed) instead of tailing")
	cli.AddNegatableBool(fs, &opts.Follow, "follow", true, "Follow the logs", "Print the logs so far and exit")
	cli.AddIntPtr(fs, &opts.Tail, "tail", "", "Show only the last N lines (disables --follow)")
	return cmd
}

func logsRun(opts *LogsOptions) error {
	client, err := opts.Client()
	if err != nil {
		return err
	}
	lo := api.ServeLogsOptions{Controller: opts.Controller, LoadBalancer: opts.LoadBalancer, Follow: opts.Follow}
	if opts.Tail != nil {
		lo.Tail = *opts.Tail
	}
	if opts.SyncDown {
		return syncDown(opts, client, lo.Tail)
	}
	if len(opts.ReplicaIDs) == 1 {
		lo.ReplicaID = opts.ReplicaIDs[0]
	}
	return client.ServeLogs(opts.Ctx, opts.ServiceName, lo, opts.IO.Out)
}

// syncDown downloads the parts named (all of them when none is: the controller, the load balancer and every
// replica) into ~/sky_logs/service/NAME_TIMESTAMP and prints the directory.
func syncDown(opts *LogsOptions, client api.Client, tail int) error {
	ss, err := client.ServeStatus(opts.Ctx, []string{opts.ServiceName})
	if err != nil {
		return err
	}
	if len(ss) == 0 {
		return &api.ServiceNotFoundError{Name: opts.ServiceName}
	}
	all := !opts.Controller && !opts.LoadBalancer && len(opts.ReplicaIDs) == 0
	part := func(file string, lo api.ServeLogsOptions) logsync.Part {
		lo.Tail = tail
		return logsync.Part{File: file, Copy: func(ctx context.Context, w io.Writer) error {
			return client.ServeLogs(ctx, opts.ServiceName, lo, w)
		}}
	}
	var parts []logsync.Part
	if all || opts.Controller {
		parts = append(parts, part("controller.log", api.ServeLogsOptions{Controller: true}))
	}
	if all || opts.LoadBalancer {
		parts = append(parts, part("load_balancer.log", api.ServeLogsOptions{LoadBalancer: true}))
	}
	ids := opts.ReplicaIDs
	if all {
		for _, r := range ss[0].Replicas {
			ids = append(ids, r.ID)
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(ss[0].Replicas, func(r api.Replica) bool { return r.ID == id }) {
			fmt.Fprintf(opts.IO.ErrOut, "Replica %d not found for %s: skipped.\n", id, opts.ServiceName)
			continue
		}
		parts = append(parts, part(fmt.Sprintf("replica_%d.log", id), api.ServeLogsOptions{ReplicaID: id}))
	}
	base := opts.LocalDir
	if base == "" {
		if base, err = logsync.LocalDir(); err != nil {
			return err
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	dir := filepath.Join(base, "service", opts.ServiceName+"_"+logsync.Timestamp(now()))
	paths, err := logsync.Download(opts.Ctx, dir, parts)
	if len(paths) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "Synced down %d log file(s) of service %s to:\n", len(paths), opts.ServiceName)
		fmt.Fprintln(opts.IO.Out, dir)
	}
	return err
}

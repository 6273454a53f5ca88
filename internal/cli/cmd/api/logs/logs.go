// Package logs implements `stix api logs`: stream the logs of an API request or of the server.
package logs

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// LogsOptions are the parsed flags and arguments of `stix api logs`. Exactly one of RequestID, LogPath and
// ServerLogs says what to stream.
type LogsOptions struct {
	IO     *cli.IOStreams
	Ctx    context.Context
	Client func() (api.Client, error)

	RequestID  string
	ServerLogs bool   // --server-logs: the server's own log
	LogPath    string // -l: a log file on the server
	Tail       *int   // --tail N; nil prints everything
	Follow     bool   // --follow (default) / --no-follow
}

// NewCmdLogs builds `stix api logs`. runF, when not nil, replaces the real run (the test seam).
func NewCmdLogs(f *cli.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Client: f.Requests()}
	cmd := &cobra.Command{
		Use:     "logs [flags] [REQUEST_ID]",
		Short:   "Stream the logs of a request on the API server",
		Example: "  stix api logs 5f3a\n  stix api logs --server-logs --tail 100",
		Args:    cli.MaxArgs(1, "REQUEST_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.RequestID = args[0]
			}
			n := 0
			for _, set := range []bool{opts.RequestID != "", opts.LogPath != "", opts.ServerLogs} {
				if set {
					n++
				}
			}
			switch {
			case n == 0:
				return cli.FlagErrorf("give a REQUEST_ID, -l/--log-path or --server-logs")
			case n > 1:
				return cli.FlagErrorf("give only one of REQUEST_ID, -l/--log-path and --server-logs")
			case opts.Tail != nil && *opts.Tail < 0:
				return cli.FlagErrorf("--tail must be 0 or more, got %d", *opts.Tail)
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return logsRun(opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.ServerLogs, "server-logs", false, "Stream the server's own logs")
	fs.StringVarP(&opts.LogPath, "log-path", "l", "", "Stream this log file on the server")
	cli.AddIntPtr(fs, &opts.Tail, "tail", "", "Show only the last N lines")
	cli.AddNegatableBool(fs, &opts.Follow, "follow", true, "Follow the logs", "Print the logs so far and exit")
	return cmd
}

func logsRun(opts *LogsOptions) error {
	if opts.LogPath != "" {
		return cli.NotImplemented("api logs -l")
	}
	c, err := cli.ServerClient(opts.Client)
	if err != nil {
		return err
	}
	if opts.ServerLogs {
		tail := 0
		if opts.Tail != nil {
			tail = *opts.Tail
		}
		return c.ServerLogs(opts.Ctx, tail, opts.IO.Out)
	}
	print := func(e api.Event) { cli.PrintEvent(opts.IO, e) }
	if !opts.Follow {
		lines, done, err := c.RequestEvents(opts.Ctx, opts.RequestID, 0)
		if err != nil {
			return err
		}
		for _, l := range lines {
			print(*l.Event)
		}
		if done == nil {
			fmt.Fprintf(opts.IO.ErrOut, "The request is still in flight; follow it with `stix api logs %s`.\n", opts.RequestID)
			return nil
		}
		return cli.RequestOutcome(opts.IO, *done)
	}
	q, err := c.FollowRequest(opts.Ctx, opts.RequestID, print)
	if err != nil {
		return err
	}
	return cli.RequestOutcome(opts.IO, q)
}

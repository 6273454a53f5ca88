// Package stixcmd wires the stix command tree and turns a command's error into an exit code.
package stixcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/store"
)

// Version is stamped at build time with -ldflags "-X github.com/stix-run/stix/internal/stixcmd.Version=...".
var Version = "0.1.0-dev"

// Main runs the stix CLI with the process's arguments and streams and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	f := &cli.Factory{
		IOStreams: cli.System(),
		Version:   Version,
		Now:       time.Now,
		Getenv:    os.Getenv,
		StixHome:  store.DefaultHome,
	}
	// The catalog of priced clouds: STIX_CATALOG_DIR as is, else the refreshed cache in STIX_HOME.
	catalogSource := func() (catalog.Source, error) {
		home, err := store.DefaultHome()
		if err != nil {
			return nil, err
		}
		warn := func(msg string) { fmt.Fprintln(f.IOStreams.ErrOut, "Warning:", msg) }
		return catalog.FromEnv(home, os.Getenv, warn)
	}
	sc := serverControl{getenv: os.Getenv, home: store.DefaultHome, catalogSource: catalogSource}
	f.Server = sc
	f.Client = sc.client(embeddedClient(catalogSource))
	f.ControllerClient = sc.controllerClient(f.Client, f.IOStreams.ErrOut)
	f.RequestsClient = sc.requestsClient(f.Client)
	return Run(ctx, f, os.Args[1:])
}

// embeddedClient returns the in-process core over $STIX_HOME (default ~/.stix), made on first use.
func embeddedClient(catalogSource func() (catalog.Source, error)) func() (api.Client, error) {
	var (
		once sync.Once
		c    api.Client
		err  error
	)
	return func() (api.Client, error) {
		once.Do(func() {
			var home string
			if home, err = store.DefaultHome(); err != nil {
				return
			}
			c = embedded.New(embedded.Options{Core: cluster.Options{Home: home, CatalogSource: catalogSource}})
		})
		return c, err
	}
}

// Run executes one stix command line against f and returns the exit code. Tests call it directly.
func Run(ctx context.Context, f *cli.Factory, args []string) int {
	root := newRoot(f, args)
	expandFor(root, args)
	root.SetArgs(args)
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(f, cmd, err)
}

func exitCode(f *cli.Factory, cmd *cobra.Command, err error) int {
	if err == nil {
		return cli.ExitOK
	}
	errOut := f.IOStreams.ErrOut
	var exit *cli.ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintln(errOut, "Error:", exit.Err)
		}
		return exit.Code
	}
	var flagErr *cli.FlagError
	if errors.As(err, &flagErr) || isCobraUsageError(err) {
		fmt.Fprintln(errOut, "Error:", err)
		if cmd != nil {
			fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return cli.ExitUsage
	}
	var detached *api.DetachedError
	if errors.As(err, &detached) {
		fmt.Fprintln(errOut, "Interrupted:", detached)
		return cli.ExitCancelled
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(errOut, "Interrupted.")
		return cli.ExitCancelled
	}
	fmt.Fprintln(errOut, "Error:", err)
	return cli.ExitFailure
}

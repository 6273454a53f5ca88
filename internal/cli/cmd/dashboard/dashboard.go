// Package dashboard implements `stix dashboard` (and `stix jobs dashboard`): open the API server's web
// dashboard in a browser, or print its URL where there is no browser to open.
package dashboard

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// DashboardOptions are the parsed flags and arguments of `stix dashboard`.
type DashboardOptions struct {
	IO *cli.IOStreams
	// Client is the API server's client: the configured one, or this machine's, started on demand (the CLI's
	// ControllerClient), as SkyPilot's `sky dashboard` starts its local server.
	Client func() (api.Client, error)
	Getenv func(string) string
	// LookPath finds a program (exec.LookPath when nil); tests replace it.
	LookPath func(string) (string, error)
	// Page is the dashboard's page to open: "" (the clusters) or "jobs".
	Page string
}

// NewCmdDashboard builds `stix dashboard`. runF, when not nil, replaces the real run (the test seam).
func NewCmdDashboard(f *cli.Factory, runF func(*DashboardOptions) error) *cobra.Command {
	return newCmd(f, runF, "", &cobra.Command{
		Use:     "dashboard",
		Aliases: []string{"ui"}, // SkyPilot's hidden `sky ui`
		Short:   "Open the stix dashboard in a browser",
		Long: "Open the API server's dashboard (its /dashboard/ pages) in the browser named by $BROWSER, else with\n" +
			"xdg-open; where neither is available, print its URL. Without a configured API server, this machine's\n" +
			"server is started first, as `stix jobs` does.",
	})
}

// NewCmdJobsDashboard builds `stix jobs dashboard`: the dashboard's page of managed jobs.
func NewCmdJobsDashboard(f *cli.Factory, runF func(*DashboardOptions) error) *cobra.Command {
	return newCmd(f, runF, "jobs", &cobra.Command{Use: "dashboard", Short: "Open the dashboard's page of managed jobs"})
}

func newCmd(f *cli.Factory, runF func(*DashboardOptions) error, page string, cmd *cobra.Command) *cobra.Command {
	opts := &DashboardOptions{IO: f.IOStreams, Client: f.ControllerClient, Getenv: f.Getenv, Page: page}
	cmd.Args = cli.NoArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if runF != nil {
			return runF(opts)
		}
		return dashboardRun(opts)
	}
	return cmd
}

func dashboardRun(opts *DashboardOptions) error {
	if opts.Client == nil {
		return cli.ErrNoServer
	}
	hc, err := cli.ServerClient(opts.Client)
	if err != nil {
		return err
	}
	url := strings.TrimRight(hc.Endpoint(), "/") + "/dashboard/" + opts.Page
	browser := browserCommand(opts)
	if browser == nil {
		fmt.Fprintln(opts.IO.Out, url)
		fmt.Fprintln(opts.IO.ErrOut, "No browser to open ($BROWSER is not set and xdg-open is not installed): open the URL above.")
		return nil
	}
	fmt.Fprintf(opts.IO.ErrOut, "Opening the dashboard in the browser: %s\n", url)
	cmd := exec.Command(browser[0], append(browser[1:], url)...)
	cmd.Stdout, cmd.Stderr = opts.IO.ErrOut, opts.IO.ErrOut
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(opts.IO.Out, url)
		return fmt.Errorf("open the browser (%s): %w; open the URL above instead", browser[0], err)
	}
	// The browser outlives the command.
	return cmd.Process.Release()
}

// browserCommand is the command that opens a URL: $BROWSER (its first entry, as a list of commands separated
// by colons), else xdg-open when installed; nil when there is none.
func browserCommand(opts *DashboardOptions) []string {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if b := strings.TrimSpace(strings.Split(getenv("BROWSER"), ":")[0]); b != "" {
		return strings.Fields(b)
	}
	lookPath := opts.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if p, err := lookPath("xdg-open"); err == nil {
		return []string{p}
	}
	return nil
}

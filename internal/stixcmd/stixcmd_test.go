package stixcmd_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/stixcmd"
)

var errNoCore = errors.New("no stix core in command tests")

type result struct {
	code        int
	out, errOut string
}

// run executes one stix command line with in-memory streams, as a user would from a script (no TTY).
func run(t testing.TB, tty bool, args ...string) result {
	t.Helper()
	return runWithInput(t, tty, "", args...)
}

// runWithInput is run with stdin holding input: the user's answers to prompts.
func runWithInput(t testing.TB, tty bool, input string, args ...string) result {
	t.Helper()
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	s := cli.Test(strings.NewReader(input), out, errOut)
	s.SetTTY(tty)
	f := &cli.Factory{
		IOStreams: s,
		Version:   "1.2.3-test",
		Now:       func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) },
		Getenv:    func(string) string { return "" },
		// Command tests stop at the core: verbs that reach it fail here, their behaviour is tested end to end.
		Client:           func() (api.Client, error) { return nil, errNoCore },
		ControllerClient: func() (api.Client, error) { return nil, errNoCore },
	}
	code := stixcmd.Run(context.Background(), f, args)
	return result{code, out.String(), errOut.String()}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := run(t, false, "--version")
	if r.code != cli.ExitOK || r.out != "stix version 1.2.3-test\n" {
		t.Errorf("got %d %q %q", r.code, r.out, r.errOut)
	}
}

func TestHelpListsEveryVerb(t *testing.T) {
	t.Parallel()
	r := run(t, false, "--help")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	for _, verb := range []string{"launch", "exec", "status", "start", "stop", "down", "autostop", "queue", "logs", "cancel",
		"cost-report", "show-gpus", "check", "jobs", "serve", "storage", "volumes", "api", "ssh", "dashboard", "completion", "validate"} {
		if !strings.Contains(r.out, "\n  "+verb+" ") {
			t.Errorf("stix --help does not list %s", verb)
		}
	}
}

// TestEveryVerbIsNotImplementedYet runs a valid command line of every verb whose work is not built yet: each must
// fail with exit 1 and say so, never succeed silently. Delete a line here when its verb gets a real run.
func TestEveryVerbIsNotImplementedYet(t *testing.T) {
	t.Parallel()
	lines := [][]string{
		{"api", "login", "--relogin", "-e", "http://127.0.0.1:1"}, {"api", "start", "--enable-basic-auth"},
		{"api", "logs", "-l", "x.log"},
		{"jobs", "pool", "logs", "-s", "p1"}, {"jobs", "pool", "down", "--purge", "-a"},
		{"volumes", "apply", "--name", "pvc1", "--infra", "k8s", "--type", "k8s-pvc", "--size", "100Gi"},
		{"volumes", "ls"}, {"volumes", "delete", "-a"}, {"volume", "ls"},
		{"local", "up"}, {"local", "down"},
		// flags whose feature is not built: refused, never silently ignored
		{"launch", "--clone-disk-from", "old", "echo"},
		{"autostop", "--wait-for", "jobs", "dev"}, {"start", "--wait-for", "none", "-i", "5", "dev"},
		{"status", "--kubernetes"}, {"status", "--k8s"},
	}
	for _, args := range lines {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, false, args...)
			if r.code != cli.ExitFailure || !strings.Contains(r.errOut, "not implemented yet") {
				t.Errorf("exit %d, stderr %q; want exit 1 and \"not implemented yet\"", r.code, r.errOut)
			}
			if r.out != "" {
				t.Errorf("wrote to stdout: %q", r.out)
			}
		})
	}
}

// TestCancelConfirms: cancel asks like stop and down do (SkyPilot: click.confirm(..., abort=True)), honours -y,
// and never waits on a hidden prompt off a terminal.
func TestCancelConfirms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tty     bool
		input   string
		args    []string
		code    int
		want    []string
		wantNot string
	}{
		{"latest job, declined", true, "n\n", []string{"cancel", "dev"}, cli.ExitFailure,
			[]string{"cancelling the latest running job", "Cancelling the latest running job on cluster(s): dev. Proceed? [Y/n]", "Aborted.\n"}, errNoCore.Error()},
		{"all, declined", true, "no\n", []string{"cancel", "-a", "dev"}, cli.ExitFailure,
			[]string{"Cancelling all your jobs on cluster(s): dev. Proceed?", "Aborted."}, errNoCore.Error()},
		{"all users and ids", true, "n\n", []string{"cancel", "-u", "dev"}, cli.ExitFailure,
			[]string{"Cancelling all users' jobs on cluster(s): dev. Proceed?"}, errNoCore.Error()},
		{"job ids, closed stdin", true, "", []string{"cancel", "dev", "1", "2"}, cli.ExitFailure,
			[]string{"Cancelling jobs 1 2 on cluster(s): dev. Proceed?", "Aborted."}, errNoCore.Error()},
		{"accepted: goes on to cancel", true, "y\n", []string{"cancel", "dev", "3"}, cli.ExitFailure,
			[]string{"Cancelling job 3 on cluster(s): dev. Proceed?", errNoCore.Error()}, "Aborted"},
		{"-y skips the question", false, "", []string{"cancel", "-y", "dev"}, cli.ExitFailure,
			[]string{errNoCore.Error()}, "Proceed?"},
		{"off a terminal without -y", false, "y\n", []string{"cancel", "dev", "1"}, cli.ExitUsage,
			[]string{"pass -y/--yes"}, errNoCore.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runWithInput(t, tt.tty, tt.input, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.code, r.errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.errOut, w) {
					t.Errorf("stderr lacks %q: %q", w, r.errOut)
				}
			}
			if tt.wantNot != "" && strings.Contains(r.errOut, tt.wantNot) {
				t.Errorf("stderr has %q: %q", tt.wantNot, r.errOut)
			}
		})
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"launch", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"status", "-Z"}, "unknown shorthand flag"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"jobs", "frobnicate"}, "unknown command"},
		{[]string{"logs"}, "missing argument CLUSTER"},
		{[]string{"launch", "-i", "soon"}, "not an integer"},
		{[]string{"status", "-o", "yaml"}, "table or json"},
		{[]string{"launch", "missing.yaml"}, "missing.yaml does not exist"},
		{[]string{"completion", "powershell"}, "unsupported shell"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, false, tt.args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want 2 (stderr %q)", r.code, r.errOut)
			}
			if !strings.Contains(r.errOut, tt.want) || !strings.Contains(r.errOut, "--help' for usage") {
				t.Errorf("stderr %q lacks %q or the usage hint", r.errOut, tt.want)
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for shell, marker := range map[string]string{"bash": "complete -o default -F __start_stix stix", "zsh": "#compdef stix", "fish": "complete -c stix"} {
		t.Run(shell, func(t *testing.T) {
			t.Parallel()
			r := run(t, false, "completion", shell)
			if r.code != cli.ExitOK || !strings.Contains(r.out, marker) {
				t.Errorf("exit %d, script lacks %q (%d bytes; stderr %q)", r.code, marker, len(r.out), r.errOut)
			}
		})
	}
}

// TestCompletionOffersVerbsAndFlags drives cobra's completion entry point, which the generated scripts call.
func TestCompletionOffersVerbsAndFlags(t *testing.T) {
	t.Parallel()
	r := run(t, false, "__complete", "jobs", "")
	for _, want := range []string{"launch", "queue", "cancel", "logs"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("completing `stix jobs ` lacks %s: %q", want, r.out)
		}
	}
	r = run(t, false, "__complete", "launch", "--detach")
	if !strings.Contains(r.out, "--detach-run") || !strings.Contains(r.out, "--detach-setup") {
		t.Errorf("completing `stix launch --detach` gave %q", r.out)
	}
}

// The deprecated-flag warning is the one coloured message a verb prints before its run; NO_COLOR must strip it.
func TestNoColorHonoured(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "") // empty counts as unset (no-color.org)
	r := run(t, true, "launch", "--cloud", "aws", "echo")
	if !strings.Contains(r.errOut, "\x1b[33m") {
		t.Fatalf("a TTY with colour allowed printed no colour: %q", r.errOut)
	}
	t.Setenv("NO_COLOR", "1")
	r = run(t, true, "launch", "--cloud", "aws", "echo")
	if strings.Contains(r.errOut, "\x1b[") {
		t.Errorf("NO_COLOR set but stderr has escape codes: %q", r.errOut)
	}
	if !strings.Contains(r.errOut, "use --infra") {
		t.Errorf("warning missing: %q", r.errOut)
	}
}

// BenchmarkHelp measures building the whole command tree and printing the root help: what `stix --help` costs
// after process start.
func BenchmarkHelp(b *testing.B) {
	for b.Loop() {
		if r := run(b, false, "--help"); r.code != 0 {
			b.Fatal(r.errOut)
		}
	}
}

// TestHelpReachesNounVerbs: help topics and --help name a noun's verb whose command is built only on demand.
func TestHelpReachesNounVerbs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help", "jobs", "launch"}, {"jobs", "launch", "--help"}, {"help", "volume", "ls"}} {
		r := run(t, false, args...)
		usage := "  stix " + strings.Join(slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "help" || a == "--help" }), " ")
		usage = strings.Replace(usage, "volume", "volumes", 1)
		if r.code != cli.ExitOK || !strings.Contains(r.out, "Usage:\n"+usage+" ") {
			t.Errorf("stix %s: exit %d, out %q, err %q", strings.Join(args, " "), r.code, r.out, r.errOut)
		}
	}
}

package cli_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stix-run/stix/internal/cli"
)

// execute runs one command line through a tree that refuses unbuilt flags, as stix's root does.
func execute(t *testing.T, verb *cobra.Command, args ...string) error {
	t.Helper()
	root := &cobra.Command{Use: "stix", SilenceErrors: true, SilenceUsage: true, PersistentPreRunE: cli.RefuseUnbuiltFlags}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.FlagError{Err: err} })
	root.AddCommand(cli.NewGroup("noun", "A noun", func() []*cobra.Command { return []*cobra.Command{verb} }))
	cli.Expand(root, args)
	root.SetArgs(args)
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	return root.Execute()
}

func TestNotBuilt(t *testing.T) {
	t.Parallel()
	build := func() *cobra.Command {
		return cli.NotBuilt(&cobra.Command{Use: "verb [flags] [NAME]", Short: "Do a thing", Args: cli.MaxArgs(1, "NAME")},
			func(fs *pflag.FlagSet) {
				fs.BoolP("all", "a", false, "Every thing")
				cli.AddAsyncUnbuilt(fs, new(bool))
			})
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		usage   bool
	}{
		{"names itself by its path", []string{"noun", "verb", "x", "-a"}, "stix noun verb: not implemented yet", false},
		{"its flags parse", []string{"noun", "verb", "--no-async", "--async=false"}, "stix noun verb: not implemented yet", false},
		{"an unbuilt flag of it is named", []string{"noun", "verb", "--async"}, "stix noun verb --async: not implemented yet", false},
		{"its arguments are checked", []string{"noun", "verb", "x", "y"}, "too many arguments", true},
		{"unknown flags are refused", []string{"noun", "verb", "--nope"}, "unknown flag: --nope", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := execute(t, build(), tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			var fe *cli.FlagError
			if errors.As(err, &fe) != tt.usage {
				t.Errorf("err %v: usage error = %v, want %v", err, !tt.usage, tt.usage)
			}
			if !tt.usage && !errors.Is(err, cli.ErrNotImplemented) {
				t.Errorf("err %v is not ErrNotImplemented", err)
			}
		})
	}
}

// TestRefuseUnbuiltFlags: a flag marked unbuilt where it is registered fails its command when given with a value
// that asks for the feature; its off value and flags not marked pass through to the verb's own run.
func TestRefuseUnbuiltFlags(t *testing.T) {
	t.Parallel()
	build := func() *cobra.Command {
		cmd := &cobra.Command{Use: "verb", RunE: func(*cobra.Command, []string) error { return nil }}
		fs := cmd.Flags()
		fs.String("ref", "", "A ref")
		cli.MarkUnbuilt(fs, "ref")
		fs.StringArray("config", nil, "Config")
		cli.MarkUnbuilt(fs, "config")
		fs.Bool("fine", false, "A built flag")
		cli.AddAsyncUnbuilt(fs, new(bool))
		cli.AddWaitFor(fs, new(string), "-i")
		return cmd
	}
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"noun", "verb"}, ""},
		{[]string{"noun", "verb", "--fine"}, ""},
		{[]string{"noun", "verb", "--ref="}, ""},
		{[]string{"noun", "verb", "--async=false"}, ""},
		{[]string{"noun", "verb", "--no-async"}, ""},
		{[]string{"noun", "verb", "--ref", "main"}, "stix noun verb --ref: not implemented yet"},
		{[]string{"noun", "verb", "--config", "a=b"}, "stix noun verb --config: not implemented yet"},
		{[]string{"noun", "verb", "--async"}, "stix noun verb --async: not implemented yet"},
		{[]string{"noun", "verb", "--wait-for", "jobs"}, "stix noun verb --wait-for: not implemented yet"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			err := execute(t, build(), tt.args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr || !errors.Is(err, cli.ErrNotImplemented)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

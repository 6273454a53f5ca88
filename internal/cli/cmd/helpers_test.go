// Package cmd_test checks, for every stix verb, that command lines parse into the right Options and that bad
// ones are usage errors. One test binary for all verbs keeps `go test` fast.
package cmd_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/taskflags"
)

// flagCase is one command line and the Options it must produce, or the error it must fail with.
type flagCase[T any] struct {
	name    string
	args    []string
	want    T
	wantErr string // a substring of the usage error; empty means success
}

var testEnv = map[string]string{"WANDB_API_KEY": "k-123"}

// runFlagCases builds the command with a capturing runF for each case and compares the Options it received.
// The injected dependencies (IO, Now, Ctx, Client) are not compared.
func runFlagCases[T any](t *testing.T, build func(*cli.Factory, func(*T) error) *cobra.Command, cases []flagCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(build, tc.args...)
			if tc.wantErr != "" {
				var fe *cli.FlagError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if !errors.As(err, &fe) {
					t.Errorf("err %v is not a usage error (exit 2)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			clearDeps(got)
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// parse runs one command line through build's command and returns the Options runF received.
func parse[T any](build func(*cli.Factory, func(*T) error) *cobra.Command, args ...string) (*T, error) {
	f := &cli.Factory{
		IOStreams: cli.Test(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}),
		Getenv:    func(k string) string { return testEnv[k] },
	}
	var got *T
	cmd := build(f, func(o *T) error { got = o; return nil })
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.FlagError{Err: err} })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		return nil, err
	}
	if got == nil {
		return nil, errors.New("runF was not called")
	}
	return got, nil
}

// clearDeps zeroes the IO, Now and Root fields that Options carry from the Factory and the tree, and turns empty
// slices (cobra passes []string{} for no arguments) into nil, so that wants can leave them out.
func clearDeps(opts any) {
	v := reflect.ValueOf(opts).Elem()
	for _, name := range []string{"IO", "Now", "Root", "Ctx", "Client", "StixHome", "Getenv"} {
		if f := v.FieldByName(name); f.IsValid() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
			f.Set(reflect.Zero(f.Type()))
		}
	}
}

func ptr[T any](v T) *T { return &v }

func cmdTask(command string) taskflags.Task {
	return taskflags.Task{Entrypoint: taskflags.Entrypoint{Command: command}}
}

func yamlTask(path string) taskflags.Task {
	return taskflags.Task{Entrypoint: taskflags.Entrypoint{YAMLPath: path}}
}

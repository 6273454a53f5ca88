package cli_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/stix-run/stix/internal/cli"
)

func TestOutputFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    cli.OutputFormat
		wantErr bool
	}{
		{nil, cli.OutputTable, false},
		{[]string{"-o", "json"}, cli.OutputJSON, false},
		{[]string{"--output=table"}, cli.OutputTable, false},
		{[]string{"-o", "yaml"}, "", true},
	}
	for _, tt := range tests {
		var got cli.OutputFormat
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		cli.AddOutputFlag(cmd, &got)
		cmd.SetArgs(tt.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if (err != nil) != tt.wantErr {
			t.Errorf("%v: err = %v, wantErr %v", tt.args, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestOutputWrite(t *testing.T) {
	t.Parallel()
	data := []map[string]string{{"name": "dev", "status": "UP"}}
	s, out := newStreams(false, false)
	tableCalled := false
	if err := cli.OutputJSON.Write(s, data, func() error { tableCalled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if tableCalled {
		t.Error("-o json also printed the table")
	}
	if want := "[\n  {\n    \"name\": \"dev\",\n    \"status\": \"UP\"\n  }\n]\n"; out.String() != want {
		t.Errorf("json: got %q, want %q", out.String(), want)
	}
	errTable := errors.New("table")
	if err := cli.OutputTable.Write(s, data, func() error { return errTable }); !errors.Is(err, errTable) {
		t.Errorf("table: err = %v, want the table's", err)
	}
}

func TestNegatableBool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    bool
		changed bool
	}{
		{nil, true, false},
		{[]string{"--no-follow"}, false, true},
		{[]string{"--follow"}, true, true},
		{[]string{"--no-follow", "--follow"}, true, true},
		{[]string{"--follow=false"}, false, true},
	}
	for _, tt := range tests {
		var follow bool
		cmd := &cobra.Command{Use: "x"}
		cli.AddNegatableBool(cmd.Flags(), &follow, "follow", true, "follow", "do not follow")
		if err := cmd.ParseFlags(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if follow != tt.want || cli.ChangedPair(cmd.Flags(), "follow") != tt.changed {
			t.Errorf("%v: follow=%v changed=%v, want %v %v", tt.args, follow, cli.ChangedPair(cmd.Flags(), "follow"), tt.want, tt.changed)
		}
	}
}

func TestParseInts(t *testing.T) {
	t.Parallel()
	got, err := cli.ParseInts([]string{"1", "22"}, "job ID")
	if err != nil || len(got) != 2 || got[0] != 1 || got[1] != 22 {
		t.Errorf("got %v, %v", got, err)
	}
	_, err = cli.ParseInts([]string{"1", "x"}, "job ID")
	var fe *cli.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("want a usage error naming x, got %v", err)
	}
}

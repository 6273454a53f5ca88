package cli_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cli"
)

func TestConfirm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		input   string
		def     bool
		want    bool
		wantErr error
	}{
		{"yes", "y\n", false, true, nil},
		{"YES in capitals", "YES\n", false, true, nil},
		{"no", "n\n", true, false, nil},
		{"empty takes default yes", "\n", true, true, nil},
		{"empty takes default no", "\n", false, false, nil},
		{"asks again after nonsense", "maybe\nyes\n", false, true, nil},
		{"answer without newline", "y", false, true, nil},
		{"closed stdin aborts", "", true, false, cli.ErrAborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errOut := &bytes.Buffer{}
			s := cli.Test(strings.NewReader(tt.input), &bytes.Buffer{}, errOut)
			s.SetTTY(true)
			got, err := cli.Confirm(s, "Tear down dev?", tt.def)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if !strings.Contains(errOut.String(), "Tear down dev?") {
				t.Errorf("question not shown on stderr: %q", errOut.String())
			}
		})
	}
}

func TestConfirmRefusesWithoutTerminal(t *testing.T) {
	t.Parallel()
	errOut := &bytes.Buffer{}
	s := cli.Test(strings.NewReader("y\n"), &bytes.Buffer{}, errOut)
	got, err := cli.Confirm(s, "Tear down dev?", true)
	var flagErr *cli.FlagError
	if got || !errors.As(err, &flagErr) {
		t.Fatalf("got %v, %v; want false and a usage error", got, err)
	}
	if !strings.Contains(err.Error(), "-y") {
		t.Errorf("error does not tell the user to pass -y: %v", err)
	}
	if errOut.Len() != 0 {
		t.Errorf("prompted anyway: %q", errOut.String())
	}
}

// TestConfirmOrAbort: declining (or closing stdin) prints "Aborted." and exits 1, like SkyPilot's
// click.confirm(abort=True); accepting returns nil.
func TestConfirmOrAbort(t *testing.T) {
	t.Parallel()
	for _, input := range []string{"n\n", ""} {
		errOut := &bytes.Buffer{}
		s := cli.Test(strings.NewReader(input), &bytes.Buffer{}, errOut)
		s.SetTTY(true)
		err := cli.ConfirmOrAbort(s, "Stopping 1 cluster: dev. Proceed?")
		var exit *cli.ExitError
		if !errors.As(err, &exit) || exit.Code != cli.ExitFailure || exit.Err != nil {
			t.Errorf("input %q: err = %v, want a silent exit 1", input, err)
		}
		if !strings.HasSuffix(errOut.String(), "Aborted.\n") {
			t.Errorf("input %q: stderr %q does not end with Aborted.", input, errOut.String())
		}
	}
	s := cli.Test(strings.NewReader("\n"), &bytes.Buffer{}, &bytes.Buffer{})
	s.SetTTY(true)
	if err := cli.ConfirmOrAbort(s, "Proceed?"); err != nil {
		t.Errorf("the default answer (yes) gave %v", err)
	}
}

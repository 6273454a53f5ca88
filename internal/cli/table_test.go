package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cli"
)

func newStreams(tty, color bool) (*cli.IOStreams, *bytes.Buffer) {
	out := &bytes.Buffer{}
	s := cli.Test(strings.NewReader(""), out, &bytes.Buffer{})
	s.SetTTY(tty)
	s.SetColorEnabled(color)
	return s, out
}

func TestTableRender(t *testing.T) {
	t.Parallel()
	fill := func(tb *cli.Table) {
		tb.AddRow("dev", "2 mins ago", "1x local(cpus=2)")
		tb.AddCells(cli.Cell{Text: "train-a100"}, cli.Cell{Text: "1 hr ago"}, cli.Styled("STOPPED", cli.Yellow))
		tb.AddRow("short") // missing fields print empty
	}
	tests := []struct {
		name       string
		tty, color bool
		want       string
	}{
		{"not a tty: tab separated with a header line", false, false,
			"NAME\tLAUNCHED\tRESOURCES\n" +
				"dev\t2 mins ago\t1x local(cpus=2)\n" +
				"train-a100\t1 hr ago\tSTOPPED\n" +
				"short\t\t\n"},
		{"not a tty ignores colour", false, true,
			"NAME\tLAUNCHED\tRESOURCES\n" +
				"dev\t2 mins ago\t1x local(cpus=2)\n" +
				"train-a100\t1 hr ago\tSTOPPED\n" +
				"short\t\t\n"},
		{"tty: aligned, uppercase headers, no trailing spaces", true, false,
			"NAME        LAUNCHED    RESOURCES\n" +
				"dev         2 mins ago  1x local(cpus=2)\n" +
				"train-a100  1 hr ago    STOPPED\n" +
				"short                   \n"},
		{"tty with colour: escape codes do not shift columns", true, true,
			"NAME        LAUNCHED    RESOURCES\n" +
				"dev         2 mins ago  1x local(cpus=2)\n" +
				"train-a100  1 hr ago    \x1b[33mSTOPPED\x1b[0m\n" +
				"short                   \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, out := newStreams(tt.tty, tt.color)
			tb := cli.NewTable(s, "NAME", "LAUNCHED", "RESOURCES")
			fill(tb)
			if err := tb.Render(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestTableKeepsRowsOnOneLine(t *testing.T) {
	t.Parallel()
	for _, tty := range []bool{false, true} {
		s, out := newStreams(tty, false)
		tb := cli.NewTable(s, "ID", "COMMAND")
		tb.AddRow("1", "echo a\n\techo b")
		if err := tb.Render(); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(out.String(), "\n"); lines != 2 {
			t.Errorf("tty=%v: want 2 lines, got %d: %q", tty, lines, out.String())
		}
	}
}

func TestTableEmptyStillHasHeader(t *testing.T) {
	t.Parallel()
	s, out := newStreams(false, false)
	if err := cli.NewTable(s, "NAME", "STATUS").Render(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "NAME\tSTATUS\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPaintHonoursColor(t *testing.T) {
	t.Parallel()
	on, _ := newStreams(true, true)
	off, _ := newStreams(true, false)
	if got := on.Paint(cli.Green, "UP"); got != "\x1b[32mUP\x1b[0m" {
		t.Errorf("colour on: got %q", got)
	}
	if got := off.Paint(cli.Green, "UP"); got != "UP" {
		t.Errorf("colour off: got %q", got)
	}
}

func TestColorAllowed(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"plain terminal", map[string]string{"TERM": "xterm-256color"}, true},
		{"NO_COLOR set", map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false},
		{"dumb terminal", map[string]string{"TERM": "dumb"}, false},
	}
	for _, tt := range tests {
		if got := cli.ColorAllowed(env(tt.env)); got != tt.want {
			t.Errorf("%s: ColorAllowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStateStyle(t *testing.T) {
	t.Parallel()
	for state, want := range map[string]cli.Style{
		"UP": cli.Green, "INIT": cli.Blue, "STOPPED": cli.Yellow, "FAILED_SETUP": cli.Red, "WHATEVER": cli.Plain,
	} {
		if got := cli.StateStyle(state); got != want {
			t.Errorf("StateStyle(%s) = %v, want %v", state, got, want)
		}
	}
}

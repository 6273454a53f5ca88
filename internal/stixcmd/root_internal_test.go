package stixcmd

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

// TestVerbNames: the names the root matches a command line against are the verb's own name and aliases, so that
// building one verb alone never misses or misroutes.
func TestVerbNames(t *testing.T) {
	t.Parallel()
	f := &cli.Factory{}
	for _, v := range verbs(f) {
		c := v.build()
		want := append([]string{c.Name()}, c.Aliases...)
		if !slices.Equal(v.names, want) {
			t.Errorf("verb table names %q, the command answers to %q", v.names, want)
		}
	}
}

// TestRootBuildsOnlyTheVerbCalled: `stix status` builds status alone; help, completion and unknown words build all.
func TestRootBuildsOnlyTheVerbCalled(t *testing.T) {
	t.Parallel()
	f := &cli.Factory{}
	all := len(verbs(f))
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"status", "-r"}, 1},
		{[]string{"volume", "ls"}, 1},
		{[]string{"ui"}, 1},
		{nil, all},
		{[]string{"--help"}, all},
		{[]string{"help", "status"}, all},
		{[]string{"completion", "bash"}, all},
		{[]string{"__complete", "st"}, all},
		{[]string{"statsu"}, all},
	} {
		if got := len(newRoot(f, tt.args).Commands()); got != tt.want {
			t.Errorf("newRoot(%q) built %d verbs, want %d", tt.args, got, tt.want)
		}
	}
}

// TestDetachedExit: Ctrl-C while following a request on an API server detaches; the command says how to follow
// or cancel the request and exits 130.
func TestDetachedExit(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	f := &cli.Factory{IOStreams: cli.Test(strings.NewReader(""), &bytes.Buffer{}, &errOut)}
	err := fmt.Errorf("launch: %w", &api.DetachedError{ID: "5f3a"})
	if code := exitCode(f, nil, err); code != cli.ExitCancelled {
		t.Errorf("exit %d, want %d", code, cli.ExitCancelled)
	}
	if want := "Interrupted: detached from request 5f3a, which goes on on the API server: follow it with `stix api logs 5f3a`"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q lacks %q", errOut.String(), want)
	}
}

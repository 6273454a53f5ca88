package stixcmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stix-run/stix/api"
)

// TestControllerClientUsesAConfiguredServer: with an endpoint configured, `stix jobs` uses the CLI's client of
// that server and starts nothing on this machine; the choice is made once per command.
func TestControllerClientUsesAConfiguredServer(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{EnvEndpoint: "http://127.0.0.1:1"}
	s := serverControl{getenv: func(k string) string { return env[k] }, home: func() (string, error) { return home, nil }}
	configured := errors.New("the configured server's client")
	calls := 0
	var errOut bytes.Buffer
	get := s.controllerClient(func() (api.Client, error) { calls++; return nil, configured }, &errOut)
	for range 2 {
		if _, err := get(); !errors.Is(err, configured) {
			t.Fatalf("got %v, want the configured server's client", err)
		}
	}
	if calls != 1 || errOut.Len() != 0 {
		t.Errorf("client made %d times, stderr %q", calls, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(home, "server")); !os.IsNotExist(err) {
		t.Errorf("a server directory was made: %v", err)
	}
}

// TestRequestsClientStartsNothing: the api verbs' client is the CLI's own with an endpoint configured, and with
// no server running on this machine; it never starts one.
func TestRequestsClientStartsNothing(t *testing.T) {
	t.Parallel()
	own := errors.New("the CLI's own client")
	for _, endpoint := range []string{"http://127.0.0.1:1", ""} {
		home := t.TempDir()
		env := map[string]string{EnvEndpoint: endpoint}
		s := serverControl{getenv: func(k string) string { return env[k] }, home: func() (string, error) { return home, nil }}
		if _, err := s.requestsClient(func() (api.Client, error) { return nil, own })(); !errors.Is(err, own) {
			t.Errorf("endpoint %q: got %v, want the CLI's own client", endpoint, err)
		}
		if _, err := os.Stat(filepath.Join(home, "server")); !os.IsNotExist(err) {
			t.Errorf("endpoint %q: a server directory was made: %v", endpoint, err)
		}
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/server"
)

// TestConfigLayersTravelAsContent: a client's --config file and project file reach a server whose disk lacks
// them: the HTTP client sends their content, and the server parses it under the client's file names (positions
// in errors and warnings), dropping the keys only the server's config sets.
func TestConfigLayersTravelAsContent(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	core := embedded.New(embedded.Options{Core: cluster.Options{Home: home}, UserHome: home, Remote: true,
		Getenv: func(string) string { return "" }})
	t.Cleanup(func() { core.Close() })
	s, err := server.New(context.Background(), server.Options{Dir: filepath.Join(home, "server"), Client: core})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })

	client := t.TempDir()
	project := filepath.Join(client, ".stix.yaml")
	good := filepath.Join(client, "good.yaml")
	bad := filepath.Join(client, "bad.yaml")
	writeFile(t, project, "allowed_clouds: [aws]\n")
	writeFile(t, good, "aws:\n  ssh_user: ubuntu\n")
	writeFile(t, bad, "provision:\n  ssh_timeout: soon\n")
	// The server's disk lacks the client's files: they are gone before the server handles a request.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range []string{project, good, bad} {
			os.Remove(p)
		}
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: hs.URL, User: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	check, err := c.Validate(ctx, api.TaskSpec{Command: "echo hi",
		Config: &api.ConfigLayers{Args: []string{good, "provision.ssh_timeout=9"}, Dir: client}})
	if err != nil {
		t.Fatal(err)
	}
	if len(check.ConfigErrors) > 0 {
		t.Fatalf("config errors: %v", check.ConfigErrors)
	}
	want := []string{
		project + ":1:1: allowed_clouds: ignored: only the API server's own config sets it",
		good + ":1:1: aws: set, but not used by stix yet",
	}
	got := strings.Join(check.Warnings, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("warnings:\n%s\nwant one starting %q", got, w)
		}
	}

	writeFile(t, bad, "provision:\n  ssh_timeout: soon\n")
	check, err = c.Validate(ctx, api.TaskSpec{Command: "echo hi", Config: &api.ConfigLayers{Args: []string{bad}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := check.ConfigErr(); err == nil || !strings.HasPrefix(err.Error(), bad+":2:16: provision.ssh_timeout") {
		t.Errorf("a bad client file: %v, want its error at %s:2:16", err, bad)
	}

	// A client that names paths (a raw JSON client) is refused: the server would read its own disk.
	var raw api.TaskCheck
	if err := postJSON(hs.URL+"/api/v1/validate", `{"command": "echo hi", "config": {"args": ["/etc/passwd"]}}`, &raw); err != nil {
		t.Fatal(err)
	}
	check = &raw
	if err != nil {
		t.Fatal(err)
	}
	if err := check.ConfigErr(); err == nil || !strings.Contains(err.Error(), "paths on the client's machine") {
		t.Errorf("config paths sent to the server: %v, want a refusal", err)
	}
}

// postJSON posts body to url and decodes its 200 answer into out.
func postJSON(url, body string, out any) error {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

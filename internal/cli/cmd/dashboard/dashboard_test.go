package dashboard

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
)

func server(t *testing.T) func() (api.Client, error) {
	c, err := api.NewHTTP(api.HTTPOptions{Endpoint: "http://127.0.0.1:46580/"})
	if err != nil {
		t.Fatal(err)
	}
	return func() (api.Client, error) { return c, nil }
}

func noXdgOpen(string) (string, error) { return "", exec.ErrNotFound }

// TestPrintsTheURLWithoutABrowser: no $BROWSER and no xdg-open: the URL on stdout, and why on stderr.
func TestPrintsTheURLWithoutABrowser(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	for page, want := range map[string]string{"": "http://127.0.0.1:46580/dashboard/\n", "jobs": "http://127.0.0.1:46580/dashboard/jobs\n"} {
		out.Reset()
		err := dashboardRun(&DashboardOptions{IO: cli.Test(strings.NewReader(""), &out, &errOut), Client: server(t),
			Getenv: func(string) string { return "" }, LookPath: noXdgOpen, Page: page})
		if err != nil || out.String() != want {
			t.Errorf("page %q: stdout %q, err %v; want %q", page, out.String(), err, want)
		}
	}
	if !strings.Contains(errOut.String(), "No browser to open") {
		t.Errorf("stderr %q does not say why the URL was printed", errOut.String())
	}
}

// TestOpensTheBrowser: $BROWSER is run with the URL (a real program: a script that records its argument).
func TestOpensTheBrowser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := filepath.Join(dir, "url")
	script := filepath.Join(dir, "browser")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf %s \"$1\" > "+got+".tmp && mv "+got+".tmp "+got+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := dashboardRun(&DashboardOptions{IO: cli.Test(strings.NewReader(""), &out, &errOut), Client: server(t),
		Getenv: func(k string) string { return map[string]string{"BROWSER": script + ":firefox"}[k] }, LookPath: noXdgOpen})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(got)
		if err == nil {
			if string(b) != "http://127.0.0.1:46580/dashboard/" {
				t.Errorf("the browser got %q", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the browser was not run within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "Opening the dashboard in the browser") {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

// TestNeedsAServer: a core in this process has no dashboard.
func TestNeedsAServer(t *testing.T) {
	t.Parallel()
	err := dashboardRun(&DashboardOptions{IO: cli.Test(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}),
		Client: func() (api.Client, error) { return nil, errors.New("no core") }, LookPath: noXdgOpen})
	if err == nil || !strings.Contains(err.Error(), "no core") {
		t.Errorf("err = %v", err)
	}
}

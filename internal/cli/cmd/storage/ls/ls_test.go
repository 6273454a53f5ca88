package ls

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

func run(t *testing.T, list []api.Storage, args ...string) (string, string) {
	t.Helper()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	fc := &fakeclient.Client{StorageListFunc: func() ([]api.Storage, error) { return list, nil }}
	f := &cli.Factory{IOStreams: cli.Test(strings.NewReader(""), out, errOut), Now: func() time.Time { return now },
		Client: func() (api.Client, error) { return fc, nil }}
	cmd := NewCmdLs(f, nil)
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String()
}

// TestLs: SkyPilot's columns, the command cut short unless -v, -v's extra columns, and -o json.
func TestLs(t *testing.T) {
	at := time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)
	long := "stix launch -c train --env A=1 --env B=2 task.yaml --detach-run"
	list := []api.Storage{{Name: "ckpt", Store: "s3", Sources: []string{"/data/a"}, Endpoint: "http://127.0.0.1:9000", Managed: true,
		User: "ada", Cluster: "train", Status: "READY", LaunchedAt: at, UpdatedAt: at, Command: long}}
	out, _ := run(t, list)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != "NAME\tUPDATED\tSTORE\tCOMMAND\tSTATUS" {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.HasPrefix(lines[1], "ckpt\t1 hr ago\tS3\t"+long[:37]+"...\tREADY") {
		t.Errorf("row %q", lines[1])
	}
	out, _ = run(t, list, "-v")
	if !strings.Contains(out, "CREATED BY STIX") || !strings.Contains(out, long) || !strings.Contains(out, "\t/data/a\thttp://127.0.0.1:9000\tyes\tno\tada\ttrain") {
		t.Errorf("-v:\n%s", out)
	}
	out, _ = run(t, list, "-o", "json")
	var got []api.Storage
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || !got[0].Managed || got[0].Command != long {
		t.Errorf("-o json: %s (%v)", out, err)
	}
	out, errOut := run(t, nil)
	if out != "" || !strings.Contains(errOut, "No existing storage.") {
		t.Errorf("empty: %q %q", out, errOut)
	}
}

package logs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cli/fakeclient"
)

// fake is a controller with service web (replicas 1 and 3) whose every log is one line naming it.
func fake() *fakeclient.Client {
	return &fakeclient.Client{
		ServeStatusFunc: func(names []string) ([]api.Service, error) {
			if len(names) != 1 || names[0] != "web" {
				return nil, nil
			}
			return []api.Service{{Name: "web", Replicas: []api.Replica{{ID: 1}, {ID: 3}}}}, nil
		},
		ServeLogsFunc: func(name string, o api.ServeLogsOptions, w io.Writer) error {
			switch {
			case o.Follow:
				return fmt.Errorf("a download follows nothing")
			case o.Controller:
				fmt.Fprintf(w, "controller of %s tail=%d\n", name, o.Tail)
			case o.LoadBalancer:
				fmt.Fprintf(w, "load balancer of %s tail=%d\n", name, o.Tail)
			case o.ReplicaID == 3:
				fmt.Fprintf(w, "replica %d of %s tail=%d\n", o.ReplicaID, name, o.Tail)
			default:
				return fmt.Errorf("cluster %s-%d not found", name, o.ReplicaID)
			}
			return nil
		},
	}
}

func run(t *testing.T, c *fakeclient.Client, o LogsOptions) (string, string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o.IO = cli.Test(strings.NewReader(""), &out, &errOut)
	o.Ctx = context.Background()
	o.Client = func() (api.Client, error) { return c, nil }
	o.LocalDir = t.TempDir()
	o.Now = func() time.Time { return time.Date(2026, 12, 4, 17, 1, 2, 345678000, time.UTC) }
	err := logsRun(&o)
	return o.LocalDir, out.String(), errOut.String(), err
}

// TestSyncDown: every part by default, into ~/sky_logs/service/NAME_TIMESTAMP as SkyPilot lays it out, one
// file per part; a part that cannot be fetched leaves no file and fails the command; named parts only.
func TestSyncDown(t *testing.T) {
	c := fake()
	base, out, errOut, err := run(t, c, LogsOptions{ServiceName: "web", SyncDown: true, Tail: ptr(5)})
	dir := filepath.Join(base, "service", "web_2026-12-04-17-01-02-345678")
	if out != dir+"\n" {
		t.Errorf("stdout %q, want the directory %s (stderr %q)", out, dir, errOut)
	}
	if err == nil || !strings.Contains(err.Error(), "replica_1.log: cluster web-1 not found") {
		t.Errorf("err = %v, want replica 1's failure", err)
	}
	want := map[string]string{"controller.log": "controller of web tail=5\n", "load_balancer.log": "load balancer of web tail=5\n",
		"replica_3.log": "replica 3 of web tail=5\n"}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(want) {
		t.Errorf("files %v, want %v", ents, want)
	}
	for f, body := range want {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != body {
			t.Errorf("%s: %q %v, want %q", f, b, err, body)
		}
	}

	base, _, errOut, err = run(t, fake(), LogsOptions{ServiceName: "web", SyncDown: true, Controller: true, ReplicaIDs: []int{3, 9}})
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(base, "service", "web_2026-12-04-17-01-02-345678")
	if ents, _ := os.ReadDir(dir); len(ents) != 2 || ents[0].Name() != "controller.log" || ents[1].Name() != "replica_3.log" {
		t.Errorf("narrowed download: %v", ents)
	}
	if !strings.Contains(errOut, "Replica 9 not found for web") {
		t.Errorf("stderr %q", errOut)
	}

	if _, _, _, err = run(t, fake(), LogsOptions{ServiceName: "nope", SyncDown: true}); err == nil || !strings.Contains(err.Error(), `service "nope" not found`) {
		t.Errorf("unknown service: %v", err)
	}
}

// TestTailOneTarget: --tail reaches the controller for each target.
func TestTailOneTarget(t *testing.T) {
	for _, o := range []LogsOptions{{Controller: true}, {LoadBalancer: true}, {ReplicaIDs: []int{3}}} {
		o.ServiceName, o.Tail = "web", ptr(7)
		_, out, _, err := run(t, fake(), o)
		if err != nil || !strings.HasSuffix(out, "tail=7\n") {
			t.Errorf("%+v: %q %v", o, out, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

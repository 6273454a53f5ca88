package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/testutil/kubetest"
	"github.com/stix-run/stix/internal/transport"
)

var plane *kubetest.Plane

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m.Run, &plane)) }

// podTransport makes a node and a running pod on it, and returns the pod's transport with home (kwok runs its
// exec on this machine).
func podTransport(t *testing.T, name, home string) *Transport {
	t.Helper()
	p := kubetest.Require(t, plane)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.AddNode(ctx, kubetest.Node{Name: "node-" + name}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.DeleteNode(context.Background(), "node-"+name) })
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"nodeName": "node-" + name, "containers": []any{map[string]any{"name": "c", "image": "busybox"}}}}
	if err := p.Client.Create(ctx, kubeapi.NSPath("default", "pods", ""), pod, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Client.Delete(context.Background(), kubeapi.NSPath("default", "pods", name)) })
	for {
		var got struct {
			Status struct{ Phase string } `json:"status"`
		}
		if err := p.Client.Get(ctx, kubeapi.NSPath("default", "pods", name), &got); err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase == "Running" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s is %s", name, got.Status.Phase)
		case <-time.After(50 * time.Millisecond):
		}
	}
	tr, err := New(p.Client, Options{Namespace: "default", Pod: name, Container: "c", Home: home})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestRunSyncAndCancel(t *testing.T) {
	home := t.TempDir()
	tr := podTransport(t, "tr", home)
	ctx := context.Background()
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "a.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	st, err := tr.Sync(ctx, src, "~/work", transport.SyncOptions{})
	if err != nil || st.Copied != 2 {
		t.Fatalf("sync: %+v, %v", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(home, "work", "sub", "a.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("synced file: %q, %v", b, err)
	}
	if st, err = tr.Sync(ctx, src, "~/work", transport.SyncOptions{}); err != nil || st.Copied != 0 || st.Skipped != 2 {
		t.Fatalf("second sync: %+v, %v; want nothing copied", st, err)
	}
	var out strings.Builder
	code, err := tr.Run(ctx, `./run.sh; echo "$GREETING from $(pwd) home=$HOME"; exit 3`,
		transport.RunOptions{Dir: "~/work", Env: []string{"GREETING=hi"}, Stdout: &out})
	if err != nil || code != 3 {
		t.Fatalf("run: exit %d, %v", code, err)
	}
	if want := "ran\nhi from " + filepath.Join(home, "work") + " home=" + home + "\n"; out.String() != want {
		t.Fatalf("run printed %q; want %q", out.String(), want)
	}
	// A cancelled command is killed with its children: its marker file never appears.
	cctx, cancel := context.WithCancel(ctx)
	started := filepath.Join(home, "started")
	done := make(chan error, 1)
	go func() {
		_, err := tr.Run(cctx, `touch started; sleep 3 && touch late`, transport.RunOptions{})
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("cancelled run: %v", err)
	}
	var ps strings.Builder
	tr.Run(ctx, `ps -eo args | grep -c '^sleep 3$' || true`, transport.RunOptions{Stdout: &ps})
	if strings.TrimSpace(ps.String()) != "0" {
		t.Fatalf("the cancelled command's sleep still runs (%s)", ps.String())
	}
}

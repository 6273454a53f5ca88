package kubeapi_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/kubeapi"
	"github.com/stix-run/stix/internal/testutil/kubetest"
)

var plane *kubetest.Plane

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m.Run, &plane)) }

// runningPod makes a node and a pod on it, and waits until the pod runs.
func runningPod(t *testing.T, name string) {
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
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s is %s, not Running", name, got.Status.Phase)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestExecStreamsAndExitStatus(t *testing.T) {
	runningPod(t, "exec")
	ctx := context.Background()
	var out, errOut bytes.Buffer
	code, err := plane.Client.Exec(ctx, kubeapi.ExecRequest{Namespace: "default", Pod: "exec", Container: "c",
		Command: []string{"sh", "-c", "tr a-z A-Z; echo oops >&2; exit 7"}, Stdin: strings.NewReader("hello\n"),
		Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	if code != 7 || out.String() != "HELLO\n" || errOut.String() != "oops\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 7, HELLO, oops", code, out.String(), errOut.String())
	}
	// A large input arrives whole: stdin is closed after it (v5), so the command sees its end.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	out.Reset()
	code, err = plane.Client.Exec(ctx, kubeapi.ExecRequest{Namespace: "default", Pod: "exec", Container: "c",
		Command: []string{"sh", "-c", "wc -c"}, Stdin: bytes.NewReader(big), Stdout: &out})
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "1048576" {
		t.Fatalf("wc -c of 1 MiB: exit %d, %q, %v", code, out.String(), err)
	}
}

func TestExecInMissingPodIsNotFound(t *testing.T) {
	kubetest.Require(t, plane)
	_, err := plane.Client.Exec(context.Background(), kubeapi.ExecRequest{Namespace: "default", Pod: "nope", Command: []string{"true"}})
	if !kubeapi.IsNotFound(err) {
		t.Fatalf("exec in a missing pod: %v; want a 404", err)
	}
}

func TestKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("contexts: [unclosed"), 0o600)
	_, err := kubeapi.LoadKubeconfig(func(k string) string { return map[string]string{"KUBECONFIG": bad}[k] })
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("a kubeconfig that does not parse: %v", err)
	}
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(kubetest.KubeconfigYAML("https://127.0.0.1:1", "ns1", "one", "t")), 0o600)
	kc, err := kubeapi.LoadKubeconfig(func(k string) string {
		return map[string]string{"KUBECONFIG": filepath.Join(dir, "missing") + string(os.PathListSeparator) + good}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.NewClient("two"); err == nil || !strings.Contains(err.Error(), `no context "two"`) || !strings.Contains(err.Error(), "one") {
		t.Fatalf("an unknown context: %v", err)
	}
	c, err := kc.NewClient("")
	if err != nil || c.Context != "one" || c.Namespace != "ns1" {
		t.Fatalf("current context: %+v, %v", c, err)
	}
	_, err = kubeapi.LoadKubeconfig(func(k string) string {
		return map[string]string{"KUBECONFIG": filepath.Join(dir, "missing")}[k]
	})
	if err != kubeapi.ErrNoKubeconfig {
		t.Fatalf("no kubeconfig: %v", err)
	}
}

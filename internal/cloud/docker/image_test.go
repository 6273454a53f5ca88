package docker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/testutil/dockertest"
)

func TestEnsureNodeImage(t *testing.T) {
	cli := dockertest.Client(t)
	ctx := context.Background()
	// The tag is this process's own: test runs of other checkouts share the engine and remove their tags.
	ref := docker.NodeImageTag(fmt.Sprintf("imagetest-%d", os.Getpid()))
	// Start from nothing so that the first call builds; remove the image afterwards.
	cli.ImageRemove(ctx, ref, true)
	t.Cleanup(func() { cli.ImageRemove(context.Background(), ref, true) })

	start := time.Now()
	first, err := docker.EnsureNodeImage(ctx, cli, ref, "")
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	if !first.Built || first.ID == "" {
		t.Fatalf("first call: %+v, want a built image", first)
	}
	start = time.Now()
	second, err := docker.EnsureNodeImage(ctx, cli, ref, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build and import %v, cached check %v", built, time.Since(start))
	if second.Built || second.ID != first.ID || second.InputsHash != first.InputsHash {
		t.Fatalf("second call: %+v, want a no-op returning %s", second, first.ID)
	}

	net := dockertest.Network(t, cli)
	tests := []struct{ name, cmd, want string }{
		{"bash", `echo ok; seq 3 | paste -sd,`, "ok\n1,2,3\n"},
		{"bash features", `a=(x y z); echo "${#a[@]} ${a[1]} $BASH_VERSION" | cut -d' ' -f1,2`, "3 y\n"},
		{"user and home", `echo "$(id -u) $HOME $(pwd)"; ls -d /tmp`, "0 /root /root\n/tmp\n"},
		{"nohup", `nohup sh -c 'kill -HUP $$; echo survived' 2>/dev/null; nohup 2>/dev/null; echo $?`, "survived\n125\n"},
		{"applets", `for c in sh cat ls mkdir rm mv sleep env sed grep tr paste head tail setsid nohup kill ps hostname; do command -v $c >/dev/null || echo missing $c; done; echo done`, "done\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runOnce(t, cli, ref, net, tt.cmd)
			if got != tt.want {
				t.Fatalf("output %q, want %q", got, tt.want)
			}
		})
	}
}

// runOnce runs bash -c cmd in a new container of ref (docker run --rm) and returns its standard output.
func runOnce(t *testing.T, cli *dockerapi.Client, ref, net, cmd string) string {
	t.Helper()
	ctx := context.Background()
	id, err := cli.ContainerCreate(ctx, "", dockerapi.ContainerConfig{Image: ref, Cmd: []string{"bash", "-c", cmd},
		Labels: map[string]string{dockertest.Label: "1"}, HostConfig: dockerapi.HostConfig{NetworkMode: net}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ContainerRemove(context.Background(), id, true, false) })
	if err := cli.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	code, err := cli.ContainerWait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("exit status %d", code)
	}
	logs, err := cli.ContainerLogs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	if err := dockerapi.Demux(&stdout, &stderr, logs); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	return stdout.String()
}

func TestRequireImage(t *testing.T) {
	cli := dockertest.Client(t)
	ctx := context.Background()
	err := docker.RequireImage(ctx, cli, "stix/no-such-image:v0")
	var missing *docker.MissingImageError
	if !errors.As(err, &missing) || missing.Ref != "stix/no-such-image:v0" {
		t.Fatalf("RequireImage of a missing image: %v, want *MissingImageError", err)
	}
	for _, want := range []string{"stix/no-such-image:v0", "build it", "docker load"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := docker.RequireImage(ctx, cli, dockertest.NodeImage(t, cli)); err != nil {
		t.Fatalf("RequireImage of the node image: %v", err)
	}
}

// A node image built with an agent binary carries it where Deploy looks for it, so that no container of a new
// cluster waits for a copy; another agent makes another image.
func TestNodeImageCarriesAgent(t *testing.T) {
	cli := dockertest.Client(t)
	ctx := context.Background()
	ref := docker.NodeImageTag(fmt.Sprintf("imagetest-agent-%d", os.Getpid()))
	cli.ImageRemove(ctx, ref, true)
	t.Cleanup(func() { cli.ImageRemove(context.Background(), ref, true) })
	bin := filepath.Join(t.TempDir(), nodeagent.BinaryName)
	if err := atomicfile.WriteExecutable(bin, []byte("#!/bin/sh\necho agent v1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	first, err := docker.EnsureNodeImage(ctx, cli, ref, bin)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := nodeagent.RemoteBinary(bin, nodeagent.DefaultBinDir)
	if err != nil {
		t.Fatal(err)
	}
	net := dockertest.Network(t, cli)
	if got := runOnce(t, cli, ref, net, strings.Replace(remote, "~", "$HOME", 1)); got != "agent v1\n" {
		t.Fatalf("the image's agent printed %q, want %q", got, "agent v1\n")
	}
	if err := atomicfile.WriteExecutable(bin, []byte("#!/bin/sh\necho agent v2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	second, err := docker.EnsureNodeImage(ctx, cli, ref, bin)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Built || second.ID == first.ID {
		t.Fatalf("another agent binary: %+v, want a new image (first %s)", second, first.ID)
	}
}

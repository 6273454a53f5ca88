package dockerapi_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/testutil/dockertest"
)

// TestContainerLifecycle drives every call the provider and transport make against the real engine.
func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	cli := dockertest.Client(t)
	img := dockertest.NodeImage(t, cli)
	net := dockertest.Network(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := cli.NetworkInspect(ctx, net); err != nil {
		t.Fatalf("inspect an existing network: %v", err)
	}
	if err := cli.NetworkCreate(ctx, net, "", nil); err == nil {
		t.Errorf("creating network %s twice succeeded", net)
	}

	name := fmt.Sprintf("stix-dockerapi-test-%d", time.Now().UnixNano()%1e9)
	label := "stix-dockerapi=" + name
	init := true
	id, err := cli.ContainerCreate(ctx, name, dockerapi.ContainerConfig{
		Image: img, Cmd: []string{"sleep", "infinity"}, Hostname: "node-0",
		Labels:     map[string]string{dockertest.Label: "1", "stix-dockerapi": name},
		HostConfig: dockerapi.HostConfig{Init: &init}, Networks: []string{net},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ContainerRemove(context.Background(), id, true, true) })
	if err := cli.ContainerStart(ctx, name); err != nil {
		t.Fatal(err)
	}
	c, err := cli.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != id || c.State == nil || !c.State.Running || c.NetworkSettings == nil ||
		c.NetworkSettings.Networks[net] == nil || c.NetworkSettings.Networks[net].IPAddress == "" {
		t.Fatalf("inspect: %+v, want running %s with an address on %s", c, id, net)
	}
	list, err := cli.ContainerList(ctx, true, label, dockertest.Label+"=1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id || !slices.Contains(list[0].Names, "/"+name) || list[0].State != "running" ||
		list[0].Labels["stix-dockerapi"] != name {
		t.Fatalf("list by label: %+v", list)
	}

	// An exec with input, both outputs and an exit status.
	code, stdout, stderr := run(t, cli, id, dockerapi.ExecConfig{Cmd: []string{"sh", "-c", `hostname; cat; echo oops >&2; exit 3`},
		Env: []string{"X=1"}, WorkingDir: "/tmp", AttachStdin: true, AttachStdout: true, AttachStderr: true}, "from stdin\n")
	if code != 3 || stdout != "node-0\nfrom stdin\n" || stderr != "oops\n" {
		t.Errorf("exec: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// A tar stream copied in keeps its modes; an existing directory is not replaced by a file.
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o640, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi\n"))
	tw.Close()
	if err := cli.CopyToContainer(ctx, id, "/tmp", bytes.NewReader(tarball.Bytes())); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, cli, id, dockerapi.ExecConfig{Cmd: []string{"sh", "-c", "stat -c %a /tmp/hello.txt; cat /tmp/hello.txt"},
		AttachStdout: true, AttachStderr: true}, ""); code != 0 || out != "640\nhi\n" {
		t.Errorf("copied file: status %d, %q", code, out)
	}
	if err := cli.CopyToContainer(ctx, id, "/nonexistent/dir", bytes.NewReader(tarball.Bytes())); !dockerapi.IsNotFound(err) {
		t.Errorf("copy into a missing directory: %v, want a not-found error", err)
	}

	if err := cli.ContainerStop(ctx, id); err != nil {
		t.Fatal(err)
	}
	if list, err := cli.ContainerList(ctx, true, label); err != nil || len(list) != 1 || list[0].State != "exited" {
		t.Fatalf("after stop: %+v, %v", list, err)
	}
	if list, err := cli.ContainerList(ctx, false, label); err != nil || len(list) != 0 {
		t.Fatalf("running containers after stop: %+v, %v", list, err)
	}
	if err := cli.ContainerStop(ctx, id); err != nil {
		t.Errorf("stopping a stopped container: %v", err)
	}
	if err := cli.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerRemove(ctx, id, true, true); err != nil {
		t.Fatal(err)
	}
	_, err = cli.ContainerInspect(ctx, id)
	if !dockerapi.IsNotFound(err) || !strings.HasPrefix(err.Error(), "Error response from daemon: ") {
		t.Errorf("inspect a removed container: %v, want the engine's not-found error", err)
	}
	if err := cli.ContainerRemove(ctx, id, true, true); !dockerapi.IsNotFound(err) {
		t.Errorf("remove a removed container: %v, want not found", err)
	}
}

func TestImagesAndNetworksNotFound(t *testing.T) {
	t.Parallel()
	cli := dockertest.Client(t)
	ctx := context.Background()
	if _, err := cli.ImageInspect(ctx, "stix/no-such-image:none"); !dockerapi.IsNotFound(err) {
		t.Errorf("inspect a missing image: %v, want not found", err)
	}
	if err := cli.NetworkInspect(ctx, "stix-no-such-network"); !dockerapi.IsNotFound(err) {
		t.Errorf("inspect a missing network: %v, want not found", err)
	}
	if err := cli.NetworkRemove(ctx, "stix-no-such-network"); !dockerapi.IsNotFound(err) {
		t.Errorf("remove a missing network: %v, want not found", err)
	}
	img, err := cli.ImageInspect(ctx, dockertest.NodeImage(t, cli))
	if err != nil || !strings.HasPrefix(img.ID, "sha256:") {
		t.Errorf("inspect the node image: %+v, %v", img, err)
	}
}

// TestExecCancel: when the context ends while a command runs, the stream is closed and the read returns.
func TestExecCancel(t *testing.T) {
	t.Parallel()
	cli := dockertest.Client(t)
	id := dockertest.Container(t, cli, dockertest.NodeImage(t, cli), dockertest.Network(t, cli))
	ctx, cancel := context.WithCancel(context.Background())
	execID, err := cli.ExecCreate(ctx, id, dockerapi.ExecConfig{Cmd: []string{"sh", "-c", "echo started; sleep 600"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := cli.ExecAttach(ctx, execID)
	if err != nil {
		t.Fatal(err)
	}
	stop := context.AfterFunc(ctx, a.Close)
	defer stop()
	var first [8 + len("started\n")]byte
	if _, err := io.ReadFull(a.Reader, first[:]); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := dockerapi.Demux(io.Discard, io.Discard, a.Reader); err == nil {
		t.Errorf("reading a closed stream returned no error")
	}
}

func TestUnreachableEngine(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	cli, err := dockerapi.New("unix://"+sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = cli.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("ping of a missing socket: %v, want an error naming it", err)
	}
	if _, err := cli.ContainerInspect(context.Background(), "x"); err == nil || dockerapi.IsNotFound(err) {
		t.Errorf("inspect through a missing socket: %v", err)
	}
}

func TestNewRejectsBadHosts(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"", "/var/run/docker.sock", "unix://", "ssh://host", "tcp://"} {
		if _, err := dockerapi.New(host, nil); err == nil {
			t.Errorf("New(%q) succeeded", host)
		}
	}
	for _, host := range []string{"unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "tcp://localhost"} {
		if _, err := dockerapi.New(host, nil); err != nil {
			t.Errorf("New(%q): %v", host, err)
		}
	}
}

func TestDemux(t *testing.T) {
	t.Parallel()
	frame := func(stream byte, s string) []byte {
		h := make([]byte, 8, 8+len(s))
		h[0] = stream
		binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
		return append(h, s...)
	}
	big := strings.Repeat("x", 100<<10)
	var in []byte
	for _, f := range [][]byte{frame(1, "out1 "), frame(2, "err1"), frame(1, big), frame(1, "out2")} {
		in = append(in, f...)
	}
	var stdout, stderr bytes.Buffer
	if err := dockerapi.Demux(&stdout, &stderr, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "out1 "+big+"out2" || stderr.String() != "err1" {
		t.Errorf("stdout %d bytes, stderr %q", stdout.Len(), stderr.String())
	}
	if err := dockerapi.Demux(io.Discard, io.Discard, bytes.NewReader(frame(1, "cut")[:9])); err == nil {
		t.Errorf("a stream cut inside a frame is not an error")
	}
	if err := dockerapi.Demux(io.Discard, io.Discard, bytes.NewReader(frame(3, "engine failed"))); err == nil ||
		!strings.Contains(err.Error(), "engine failed") {
		t.Errorf("an error frame: %v", err)
	}
}

// run executes cfg in container id with stdin and returns its status and outputs.
func run(t *testing.T, cli *dockerapi.Client, id string, cfg dockerapi.ExecConfig, stdin string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	execID, err := cli.ExecCreate(ctx, id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cli.ExecAttach(ctx, execID)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if cfg.AttachStdin {
		io.WriteString(a.Conn, stdin)
		a.CloseWrite()
	}
	var stdout, stderr bytes.Buffer
	if err := dockerapi.Demux(&stdout, &stderr, a.Reader); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		running, code, err := cli.ExecInspect(ctx, execID)
		if err != nil {
			t.Fatal(err)
		}
		if !running {
			return code, stdout.String(), stderr.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec %s still running after its output ended", execID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

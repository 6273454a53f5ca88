package docker_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/docker"
	"github.com/stix-run/stix/internal/testutil"
	"github.com/stix-run/stix/internal/testutil/dockertest"
	"github.com/stix-run/stix/internal/testutil/storagetest"
	"github.com/stix-run/stix/internal/transport"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunWithAgent(m)) }

// A node container of a task that mounts buckets (Requirements.FUSE) mounts a MinIO bucket that runs on the
// host, reads an object through the mount, and writes one back through a MOUNT_CACHED mount.
func TestDockerNodeMountsBucket(t *testing.T) {
	dockertest.Client(t) // skips without an engine (fails with STIX_REQUIRE_DOCKER=1)
	for _, tool := range []string{"rclone", "fusermount3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s on the host (the node image copies it): %v", tool, err)
		}
	}
	gw := bridgeIP(t)
	endpoint, user, pass := startMinIO(t, gw)
	s3 := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("rclone", args...)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") { // rclone 1.60's S3 client fails on it
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "RCLONE_CONFIG_M_TYPE=s3", "RCLONE_CONFIG_M_PROVIDER=Other",
			"RCLONE_CONFIG_M_ENDPOINT="+endpoint, "RCLONE_CONFIG_M_ACCESS_KEY_ID="+user,
			"RCLONE_CONFIG_M_SECRET_ACCESS_KEY="+pass, "RCLONE_CONFIG_M_FORCE_PATH_STYLE=true")
		cmd.Stdin = strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("rclone %v: %v: %s", args, err, stderr.String())
		}
		return string(out)
	}
	s3("", "mkdir", "m:shared")
	s3("dataset row 1\n", "rcat", "m:shared/in/rows.txt")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, tr := fuseCluster(ctx, t)
	mk := func(dest string, mode agent.MountMode, prefix string) agent.Mount {
		return agent.Mount{Dest: dest, Mode: mode, Store: agent.StoreS3, Bucket: "shared", Prefix: prefix,
			Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
			Creds: agent.StoreCreds{AccessKeyID: user, SecretAccessKey: pass}}
	}
	if _, err := c.Mount(ctx, agent.MountsRequest{Mounts: []agent.Mount{
		mk("/data", agent.MountModeMount, "in"), mk("~/out", agent.MountModeCached, "out")}}); err != nil {
		t.Fatalf("mount in the container: %v", err)
	}
	run := func(cmd string) string { t.Helper(); return runIn(ctx, t, tr, cmd) }
	if got := run("cat /data/rows.txt"); got != "dataset row 1\n" {
		t.Fatalf("read through the container's mount: %q", got)
	}
	run("echo result > ~/out/r.txt")
	if _, err := c.FlushMounts(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if got := s3("", "cat", "m:shared/out/r.txt"); got != "result\n" {
		t.Fatalf("object written from the container: %q", got)
	}
	if _, err := c.Unmount(ctx); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	if got := run("grep -c fuse.rclone /proc/self/mountinfo || true"); strings.TrimSpace(got) != "0" {
		t.Fatalf("mounts left in the container: %s", got)
	}
}

// startMinIO runs the MinIO server scripts/storage-servers.sh builds, listening on ip, until the test ends.
func startMinIO(t *testing.T, ip string) (endpoint, user, pass string) {
	t.Helper()
	bin := storagetest.MinIOBin()
	requireServer(t, bin)
	port := func() string {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		return p
	}
	addr := net.JoinHostPort(ip, port())
	user, pass = "stixtest", "stixtest-secret-key"
	cmd := exec.Command(bin, "server", t.TempDir(), "--quiet", "--address", addr, "--console-address", net.JoinHostPort(ip, port()))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+pass, "MINIO_BROWSER=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	endpoint = "http://" + addr
	waitHTTP(t, endpoint+"/minio/health/live")
	return endpoint, user, pass
}

// fuseCluster provisions a one-node Docker cluster for a task that mounts buckets and returns a client of its
// agent and the node's transport.
func fuseCluster(ctx context.Context, t *testing.T) (*agent.Client, transport.Transport) {
	t.Helper()
	c, tr := dockerCluster(ctx, t, true)
	capab, err := c.MountCapability(ctx)
	if err != nil || !capab.CanMount {
		t.Fatalf("capability in the container: %+v, %v", capab, err)
	}
	return c, tr
}

// dockerCluster provisions a one-node Docker cluster, for a task that mounts buckets when fuse is set.
func dockerCluster(ctx context.Context, t *testing.T, fuse bool) (*agent.Client, transport.Transport) {
	t.Helper()
	p := docker.New(docker.Options{Home: t.TempDir(), NodeImage: docker.NodeImageTag("mounttest")})
	name := fmt.Sprintf("mnt%d", time.Now().UnixNano()%1e9)
	info, err := p.Provision(ctx, cloud.ProvisionRequest{Cluster: cloud.ClusterRef{Name: name},
		Requirements: cloud.Requirements{FUSE: fuse}})
	t.Cleanup(func() {
		if info != nil {
			_ = p.Terminate(context.Background(), cloud.ClusterRef{Name: name, Handle: info.Handle})
		}
	})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	tr, err := p.Transport(ctx, info, 0)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := agenttls.ClientConfig([]byte(info.CACert))
	if err != nil {
		t.Fatal(err)
	}
	c := agent.NewClient(info.Nodes[0].AgentAddr, info.Secret, tr.Dial, agent.WithTLS(tlsCfg))
	t.Cleanup(c.Close)
	return c, tr
}

// A container made for a task without bucket mounts has no FUSE device: the probe says so, and what to do.
func TestDockerNodeWithoutFUSE(t *testing.T) {
	dockertest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, _ := dockerCluster(ctx, t, false)
	capab, err := c.MountCapability(ctx)
	if err != nil || capab.CanMount || !strings.Contains(capab.Reason, "/dev/fuse is missing") || !strings.Contains(capab.Reason, "COPY") {
		t.Fatalf("capability = %+v, %v; want no FUSE device", capab, err)
	}
}

// bridgeIP is the default bridge's gateway: an address of this host that containers reach, and no wider.
func bridgeIP(t *testing.T) string {
	t.Helper()
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		t.Fatalf("no docker0 bridge to serve the store on: %v", err)
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Fatal("docker0 has no IPv4 address")
	return ""
}

// runIn runs cmd in the node and returns its output, failing the test on a non-zero exit.
func runIn(ctx context.Context, t *testing.T, tr transport.Transport, cmd string) string {
	t.Helper()
	var out strings.Builder
	code, err := tr.Run(ctx, cmd, transport.RunOptions{Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		t.Fatalf("%s in the container: exit %d, %v: %s", cmd, code, err, out.String())
	}
	return out.String()
}

// GCS (fake-gcs-server on the host) mounted in a node container, MOUNT_CACHED: a write in the container reaches
// the bucket by the flush. Without Requirements.FUSE the container has no /dev/fuse and the probe says so.
func TestDockerNodeMountsGCSBucket(t *testing.T) {
	dockertest.Client(t)
	gw := bridgeIP(t)
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "gb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "gb", "seed.txt"), []byte("seed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := storagetest.FakeGCSBin()
	requireServer(t, bin)
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	base := "http://" + net.JoinHostPort(gw, port)
	srv := exec.Command(bin, "-scheme", "http", "-host", gw, "-port", port, "-backend", "memory", "-data", data,
		"-external-url", base, "-log-level", "error")
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL); _ = srv.Wait() })
	waitHTTP(t, base+"/storage/v1/b")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, tr := fuseCluster(ctx, t)
	m := agent.Mount{Dest: "/gcs", Mode: agent.MountModeCached, Store: agent.StoreGCS, Bucket: "gb", Endpoint: base}
	if _, err := c.Mount(ctx, agent.MountsRequest{Mounts: []agent.Mount{m}}); err != nil {
		t.Fatalf("mount in the container: %v", err)
	}
	if got := runIn(ctx, t, tr, "cat /gcs/seed.txt && echo up > /gcs/new.txt"); got != "seed\n" {
		t.Fatalf("read through the container's mount: %q", got)
	}
	if _, err := c.FlushMounts(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	resp, err := http.Get(base + "/storage/v1/b/gb/o/new.txt?alt=media")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "up\n" {
		t.Fatalf("object written from the container: HTTP %d %q", resp.StatusCode, body)
	}
	if _, err := c.Unmount(ctx); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	if got := runIn(ctx, t, tr, "grep -c fuse.rclone /proc/self/mountinfo || true"); strings.TrimSpace(got) != "0" {
		t.Fatalf("mounts left in the container: %s", got)
	}
}

// requireServer is storagetest's rule for a storage test server: skipped when it is not built, unless
// STIX_REQUIRE_STORAGE=1 (CI), which fails the test.
func requireServer(t *testing.T, bin string) {
	t.Helper()
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return
	}
	msg := "no " + bin + ": build it with scripts/storage-servers.sh"
	if os.Getenv("STIX_REQUIRE_STORAGE") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (CI sets STIX_REQUIRE_STORAGE=1)")
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 60s", url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

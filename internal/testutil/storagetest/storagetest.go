// Package storagetest runs real object stores for tests: MinIO as S3 and fake-gcs-server as GCS, each a separate
// program on 127.0.0.1 with a free port and its files in t.TempDir(). scripts/storage-servers.sh builds both once
// into a cache (~/.cache/stix, or $STIX_CACHE); this package finds them there, or at $STIX_MINIO_BIN and
// $STIX_FAKE_GCS_BIN. Without a binary the test is skipped, unless STIX_REQUIRE_STORAGE=1 makes that a failure.
// MinIO is AGPL: stix never imports it, the tests only run its binary.
package storagetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/internal/testutil/kubetest"
)

// Versions of the cached builds (scripts/storage-servers.sh names its directories after them).
const (
	MinIOVersion   = "v0.0.0-20260212201848-7aac2a2c5b7c"
	FakeGCSVersion = "v1.56.1"
)

// The MinIO root user every server starts with.
const (
	AccessKey = "stixadmin"
	SecretKey = "stixsecret123"
)

func cacheDir() string {
	if d := os.Getenv("STIX_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "stix")
}

// MinIOBin is the MinIO binary: $STIX_MINIO_BIN, else the cache scripts/storage-servers.sh fills.
func MinIOBin() string {
	if b := os.Getenv("STIX_MINIO_BIN"); b != "" {
		return b
	}
	return filepath.Join(cacheDir(), "minio-"+MinIOVersion, "minio")
}

// FakeGCSBin is the fake-gcs-server binary: $STIX_FAKE_GCS_BIN, else the cache.
func FakeGCSBin() string {
	if b := os.Getenv("STIX_FAKE_GCS_BIN"); b != "" {
		return b
	}
	return filepath.Join(cacheDir(), "fake-gcs-server-"+FakeGCSVersion, "fake-gcs-server")
}

// require skips (or, with STIX_REQUIRE_STORAGE=1, fails) t when bin is not built.
func require(t testing.TB, bin, what string) {
	t.Helper()
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return
	}
	msg := fmt.Sprintf("no %s binary at %s: build it with scripts/storage-servers.sh", what, bin)
	if os.Getenv("STIX_REQUIRE_STORAGE") == "1" {
		t.Fatal(msg + " (STIX_REQUIRE_STORAGE=1 requires it)")
	}
	t.Skip(msg + " (CI sets STIX_REQUIRE_STORAGE=1)")
}

// S3 is a running MinIO server.
type S3 struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL       string
	AccessKey string
	SecretKey string
	Region    string
	Dir       string
}

// MinIO starts a MinIO server for the test (with root user AccessKey/SecretKey), waits until it is live, and
// stops it at cleanup.
func MinIO(t testing.TB) *S3 {
	t.Helper()
	return MinIOWith(t, AccessKey, SecretKey)
}

// MinIOWith is MinIO with another root user, and more environment for the server (MINIO_DOMAIN=... for
// virtual-hosted addressing).
func MinIOWith(t testing.TB, user, password string, env ...string) *S3 {
	t.Helper()
	bin := MinIOBin()
	require(t, bin, "MinIO")
	dir := t.TempDir()
	ports := freePorts(t, 2)
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	env = append([]string{"MINIO_ROOT_USER=" + user, "MINIO_ROOT_PASSWORD=" + password, "MINIO_UPDATE=off",
		"MINIO_BROWSER=off", "MINIO_REGION=us-east-1", "MINIO_CI_CD=1", "HOME=" + dir}, env...)
	start(t, dir, bin, env, "server", "--quiet", "--address", addr,
		"--console-address", "127.0.0.1:"+strconv.Itoa(ports[1]), filepath.Join(dir, "data"))
	s := &S3{URL: "http://" + addr, AccessKey: user, SecretKey: password, Region: "us-east-1", Dir: dir}
	waitHealthy(t, dir, s.URL+"/minio/health/live")
	return s
}

// GCS is a running fake-gcs-server.
type GCS struct {
	// Host is host:port, as STORAGE_EMULATOR_HOST takes it; URL is http://Host.
	Host string
	URL  string
	Dir  string
}

// FakeGCS starts fake-gcs-server for the test (plain HTTP, objects in memory: its filesystem backend cleans
// object names, which GCS does not), waits until it answers, and stops it at cleanup.
func FakeGCS(t testing.TB) *GCS {
	t.Helper()
	bin := FakeGCSBin()
	require(t, bin, "fake-gcs-server")
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	host := "127.0.0.1:" + strconv.Itoa(port)
	start(t, dir, bin, nil, "-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
		"-backend", "memory", "-public-host", host,
		"-external-url", "http://"+host, "-log-level", "warn")
	g := &GCS{Host: host, URL: "http://" + host, Dir: dir}
	waitHealthy(t, dir, g.URL+"/storage/v1/b")
	return g
}

// start runs bin with its output in dir/server.log, in its own process group, killed at cleanup.
func start(t testing.TB, dir, bin string, env []string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if runtime.GOOS == "linux" {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

// waitHealthy polls url until it answers 200, for up to a minute (the machines are loaded).
func waitHealthy(t testing.TB, dir, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last error
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			data, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("waiting for %s: %v (last: %v)\nserver log:\n%s", url, ctx.Err(), last, tail(string(data), 30))
		case <-time.After(wait):
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n ports free on 127.0.0.1 now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// EtcdBin is the etcd binary MinIO's bucket federation needs: $STIX_ETCD_BIN, else the Kubernetes test plane's
// (scripts/k8s-plane.sh builds it).
func EtcdBin() string {
	if b := os.Getenv("STIX_ETCD_BIN"); b != "" {
		return b
	}
	return filepath.Join(kubetest.BinDir(), "etcd")
}

// Federation starts two MinIO servers sharing one bucket namespace through etcd (MinIO's bucket federation),
// standing for two accounts of one store: a bucket one of them made is "BucketAlreadyExists" to the other. Each
// names a documentation address (192.0.2.1, 192.0.2.2) as its public IP, which MinIO only records in etcd; no
// traffic goes there. Without etcd the test is skipped, unless STIX_REQUIRE_STORAGE=1 and STIX_REQUIRE_K8S=1.
func Federation(t testing.TB) (*S3, *S3) {
	t.Helper()
	etcd := EtcdBin()
	if fi, err := os.Stat(etcd); err != nil || fi.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("no etcd binary at %s: build it with scripts/k8s-plane.sh", etcd)
		if os.Getenv("STIX_REQUIRE_STORAGE") == "1" && os.Getenv("STIX_REQUIRE_K8S") == "1" {
			t.Fatal(msg + " (STIX_REQUIRE_STORAGE=1 and STIX_REQUIRE_K8S=1 require it)")
		}
		t.Skip(msg + " (CI builds it)")
	}
	require(t, MinIOBin(), "MinIO")
	dir := t.TempDir()
	ports := freePorts(t, 2)
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	start(t, dir, etcd, nil, "--name", "stix", "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", client,
		"--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "stix="+peer, "--unsafe-no-fsync")
	waitHealthy(t, dir, client+"/health")
	var out [2]*S3
	for i := range out {
		out[i] = MinIOWith(t, AccessKey, SecretKey, "MINIO_ETCD_ENDPOINTS="+client, "MINIO_DOMAIN=stix.test",
			"MINIO_PUBLIC_IPS=192.0.2."+strconv.Itoa(i+1))
	}
	return out[0], out[1]
}

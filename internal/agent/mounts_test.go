package agent

import (
	"errors"
	"fmt"
	"github.com/stix-run/stix/internal/testutil/storagetest"
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
)

// The mount tests run real rclone mounts (FUSE) of a real MinIO server, as root on a machine with /dev/fuse.

// minioServer is a MinIO process on loopback, started for one test.
type minioServer struct {
	endpoint, user, pass string
}

// requireServer is storagetest's rule for a storage test server: skipped when it is not built, unless
// STIX_REQUIRE_STORAGE=1 (CI), which fails the test.
func requireServer(t testing.TB, bin string) {
	t.Helper()
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return
	}
	msg := fmt.Sprintf("no %s: build it with scripts/storage-servers.sh", bin)
	if os.Getenv("STIX_REQUIRE_STORAGE") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (CI sets STIX_REQUIRE_STORAGE=1)")
}

// requireFUSE fails the test where FUSE mounts cannot be made: these tests are about them.
func requireFUSE(t testing.TB) {
	t.Helper()
	if c := ProbeMount(); !c.CanMount {
		t.Fatalf("this machine cannot make FUSE mounts: %s", c.Reason)
	}
}

// startMinIO starts a MinIO server on loopback for the test (storagetest: skipped where the server is not
// built, unless STIX_REQUIRE_STORAGE=1, as CI runs).
func startMinIO(t testing.TB) *minioServer {
	t.Helper()
	srv := storagetest.MinIO(t)
	return &minioServer{endpoint: srv.URL, user: srv.AccessKey, pass: srv.SecretKey}
}

func freePort(t testing.TB, ip string) string {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// mount is a Mount of bucket on this server.
func (s *minioServer) mount(dest string, mode MountMode, bucket, prefix string) Mount {
	return Mount{Dest: dest, Mode: mode, Store: StoreS3, Bucket: bucket, Prefix: prefix, Endpoint: s.endpoint,
		Region: "us-east-1", PathStyle: true, Creds: StoreCreds{AccessKeyID: s.user, SecretAccessKey: s.pass}}
}

// rclone runs an rclone command against the server directly (not through any mount), e.g. to put or read an
// object: the test's view of the bucket.
func (s *minioServer) rclone(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	m := s.mount("", MountModeMount, "x", "")
	cmd := exec.Command("rclone", args...)
	// The mounts never create buckets (no_check_bucket); the test does.
	cmd.Env = append(rcloneEnv(m, "u", "p"), "RCLONE_CONFIG_STIX_NO_CHECK_BUCKET=false")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("rclone %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

func (s *minioServer) makeBucket(t testing.TB, bucket string) {
	s.rclone(t, "", "mkdir", "stix:"+bucket)
}

func (s *minioServer) put(t testing.TB, key, content string) {
	s.rclone(t, content, "rcat", "stix:"+key)
}

func (s *minioServer) get(t testing.TB, key string) string {
	return s.rclone(t, "", "cat", "stix:"+key)
}

// fuseMounted reports whether dest is an rclone mount in this mount namespace.
func fuseMounted(t testing.TB, dest string) bool {
	m, err := mountTable()
	if err != nil {
		t.Fatal(err)
	}
	return m[dest] == rcloneFSType
}

func TestMountS3ReadsBucket(t *testing.T) {
	requireFUSE(t)
	s := startMinIO(t)
	s.makeBucket(t, "data")
	s.put(t, "data/train/part-0.txt", "hello from the bucket\n")
	s.put(t, "data/other.txt", "not under the prefix\n")
	a := startAgent(t, "127.0.0.1", nil)

	capab, err := a.client.MountCapability(ctxT(t))
	if err != nil || !capab.CanMount || !strings.Contains(capab.Rclone, "rclone") {
		t.Fatalf("capability = %+v, %v; want can_mount with rclone", capab, err)
	}
	m := s.mount("~/dataset", MountModeMount, "data", "train")
	res, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{m}})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	dest := filepath.Join(a.dir, "dataset")
	if len(res.Mounts) != 1 || res.Mounts[0].Dest != dest || res.Mounts[0].PID == 0 {
		t.Fatalf("mount answer = %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "part-0.txt")); err != nil || string(b) != "hello from the bucket\n" {
		t.Fatalf("read through the mount: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "other.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an object outside the prefix shows in the mount: %v", err)
	}
	// Nothing secret on the node's disk: not in the mount table, not in rclone's log.
	for _, f := range []string{filepath.Join(a.dir, MountsFile), filepath.Join(a.dir, "agent.log")} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), s.pass) {
			t.Fatalf("%s holds the secret key", f)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(a.dir, "mounts", "*.log"))
	for _, f := range logs {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), s.pass) {
			t.Fatalf("%s holds the secret key", f)
		}
	}
	// The same request again changes nothing.
	again, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{m}})
	if err != nil || again.Mounts[0].PID != res.Mounts[0].PID {
		t.Fatalf("identical mount again: %+v, %v; want the same rclone (pid %d)", again, err, res.Mounts[0].PID)
	}
	// Another prefix on the same destination replaces the mount.
	m2 := s.mount("~/dataset", MountModeMount, "data", "")
	re, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{m2}})
	if err != nil || re.Mounts[0].PID == res.Mounts[0].PID {
		t.Fatalf("replace the mount: %+v, %v", re, err)
	}
	waitGone(t, res.Mounts[0].PID, "the replaced rclone")
	if b, err := os.ReadFile(filepath.Join(dest, "other.txt")); err != nil || string(b) != "not under the prefix\n" {
		t.Fatalf("read through the new mount: %q, %v", b, err)
	}
	// Unmount: nothing left mounted, rclone gone, the table empty.
	if _, err := a.client.Unmount(ctxT(t)); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	if fuseMounted(t, dest) || processAlive(re.Mounts[0].PID) {
		t.Fatalf("after unmount: mounted %v, rclone alive %v", fuseMounted(t, dest), processAlive(re.Mounts[0].PID))
	}
	if l, _ := a.client.Mounts(ctxT(t)); len(l.Mounts) != 0 {
		t.Fatalf("mounts after unmount = %+v", l)
	}
}

// A job writes a checkpoint into a MOUNT_CACHED bucket and exits: when the head reports it finished, the object
// is in the bucket already. KillAll then leaves no mount and no rclone.
func TestMountCachedFlushedBeforeJobEnds(t *testing.T) {
	requireFUSE(t)
	s := startMinIO(t)
	s.makeBucket(t, "ckpt")
	c := startCluster(t, "mnt", []nodeOpts{{cpus: 4}})
	a := c.agents[0]
	res, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/ckpt", MountModeCached, "ckpt", "run1")}})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	pid := res.Mounts[0].PID
	id := c.submit(t, JobSpec{Run: `printf 'weights-step-100' > ~/ckpt/step-100.ckpt && mkdir -p ~/ckpt/sub && echo done > ~/ckpt/sub/last`})
	c.waitStatus(t, id, StatusSucceeded)
	// No waiting: the head recorded the end only after the node's flush.
	if got := s.get(t, "ckpt/run1/step-100.ckpt"); got != "weights-step-100" {
		t.Fatalf("checkpoint in the bucket = %q", got)
	}
	if got := s.get(t, "ckpt/run1/sub/last"); got != "done\n" {
		t.Fatalf("second file in the bucket = %q", got)
	}
	dest := filepath.Join(a.dir, "ckpt")
	if err := KillAll(a.dir); err != nil {
		t.Fatalf("KillAll: %v", err)
	}
	if fuseMounted(t, dest) {
		t.Fatalf("%s is still mounted after KillAll", dest)
	}
	waitGone(t, pid, "rclone after KillAll")
	if recs, err := readMountTable(a.dir); err != nil || len(recs) != 0 {
		t.Fatalf("mount table after KillAll = %+v, %v", recs, err)
	}
}

// KillAll flushes what a still-running job wrote before it unmounts.
func TestMountCachedKillAllFlushes(t *testing.T) {
	requireFUSE(t)
	s := startMinIO(t)
	s.makeBucket(t, "out")
	a := startAgent(t, "127.0.0.1", nil)
	if _, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount(filepath.Join(a.dir, "out"), MountModeCached, "out", "")}}); err != nil {
		t.Fatalf("mount: %v", err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, "out", "result.txt"), []byte("42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := KillAll(a.dir); err != nil {
		t.Fatalf("KillAll: %v", err)
	}
	if got := s.get(t, "out/result.txt"); got != "42\n" {
		t.Fatalf("object after KillAll = %q", got)
	}
}

func TestMountAdoptedAfterAgentRestart(t *testing.T) {
	requireFUSE(t)
	s := startMinIO(t)
	s.makeBucket(t, "keep")
	s.put(t, "keep/a.txt", "A\n")
	a := startAgent(t, "127.0.0.1", nil)
	res, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/keep", MountModeCached, "keep", "")}})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	pid := res.Mounts[0].PID
	a.kill9()
	a.start()
	l, err := a.client.Mounts(ctxT(t))
	if err != nil || len(l.Mounts) != 1 || l.Mounts[0].PID != pid || l.Mounts[0].Error != "" {
		t.Fatalf("mounts after restart = %+v, %v; want the rclone of pid %d adopted", l, err, pid)
	}
	dest := filepath.Join(a.dir, "keep")
	if b, err := os.ReadFile(filepath.Join(dest, "a.txt")); err != nil || string(b) != "A\n" {
		t.Fatalf("read after restart: %q, %v", b, err)
	}
	// rclone's remote control answers the password derived from the cluster secret, and nothing else.
	recs, err := readMountTable(a.dir)
	if err != nil || len(recs) != 1 {
		t.Fatalf("mount table = %+v, %v", recs, err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if st, err := rcStats(ctxT(t), hc, recs[0].RCAddr, rcPassword([]byte(testSecret), recs[0].RCNonce)); err != nil || st.DiskCache == nil {
		t.Fatalf("rc vfs/stats with the derived password: %+v, %v", st, err)
	}
	if _, err := rcStats(ctxT(t), hc, recs[0].RCAddr, "guess"); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("rc vfs/stats with a wrong password: %v; want HTTP 401", err)
	}
	// The adopted mount's remote control still answers: a flush through the new agent uploads.
	if err := os.WriteFile(filepath.Join(dest, "b.txt"), []byte("B\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.FlushMounts(ctxT(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if got := s.get(t, "keep/b.txt"); got != "B\n" {
		t.Fatalf("object after flush = %q", got)
	}
	if _, err := a.client.Unmount(ctxT(t)); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	waitGone(t, pid, "adopted rclone after unmount")
	if fuseMounted(t, dest) {
		t.Fatal("still mounted after unmount")
	}
}

func TestMountErrors(t *testing.T) {
	requireFUSE(t)
	s := startMinIO(t)
	s.makeBucket(t, "real")
	a := startAgent(t, "127.0.0.1", nil)

	bad := s.mount("~/bad", MountModeMount, "real", "")
	bad.Creds.SecretAccessKey = "wrong-secret"
	_, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{bad}})
	var me *MountError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "s3://real") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("bad credential: %v; want a mount error naming s3://real, without the secret", err)
	}
	if fuseMounted(t, filepath.Join(a.dir, "bad")) {
		t.Fatal("a failed mount was left mounted")
	}
	if l, _ := a.client.Mounts(ctxT(t)); len(l.Mounts) != 0 {
		t.Fatalf("a failed mount was recorded: %+v", l)
	}

	_, err = a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/nob", MountModeMount, "no-such-bucket", "")}})
	if err == nil || !strings.Contains(err.Error(), "s3://no-such-bucket") {
		t.Fatalf("missing bucket: %v; want an error naming it", err)
	}

	full := filepath.Join(a.dir, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount(full, MountModeMount, "real", "")}})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("non-empty destination: %v", err)
	}

	for _, tc := range []struct {
		m    Mount
		want string
	}{
		{Mount{Dest: "~/m", Mode: "SYNC", Store: StoreS3, Bucket: "real"}, `mode "SYNC"`},
		{Mount{Dest: "~/m", Mode: MountModeMount, Store: "azure", Bucket: "real"}, `store "azure"`},
		{Mount{Dest: "~/m", Mode: MountModeMount, Store: StoreS3, Bucket: "a/b"}, `bucket name "a/b"`},
		{Mount{Dest: "", Mode: MountModeMount, Store: StoreS3, Bucket: "real"}, "destination is empty"},
	} {
		_, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{tc.m}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mount %+v: %v; want %q", tc.m, err, tc.want)
		}
	}
	twice := s.mount("~/t", MountModeMount, "real", "")
	_, err = a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{twice, twice}})
	if err == nil || !strings.Contains(err.Error(), "two mounts onto") {
		t.Fatalf("two mounts onto one destination: %v", err)
	}
}

func TestMountWithoutFUSEDevice(t *testing.T) {
	a := startAgent(t, "127.0.0.1", []string{"STIX_FUSE_DEVICE=/nonexistent/fuse"})
	capab, err := a.client.MountCapability(ctxT(t))
	if err != nil || capab.CanMount || !strings.Contains(capab.Reason, "/nonexistent/fuse is missing") {
		t.Fatalf("capability = %+v, %v; want a missing FUSE device", capab, err)
	}
	m := Mount{Dest: "~/d", Mode: MountModeMount, Store: StoreS3, Bucket: "b", Endpoint: "http://127.0.0.1:9"}
	_, err = a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{m}})
	if err == nil || !strings.Contains(err.Error(), "cannot mount s3://b") || !strings.Contains(err.Error(), "COPY") {
		t.Fatalf("mount without FUSE: %v", err)
	}
}

// The secret-bearing type never prints its secrets.
func TestMountCredsNeverPrinted(t *testing.T) {
	c := StoreCreds{AccessKeyID: "AKIA-id", SecretAccessKey: "very-secret"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%+v", Mount{Creds: c})} {
		if strings.Contains(s, "very-secret") || strings.Contains(s, "AKIA-id") {
			t.Fatalf("printed creds: %s", s)
		}
	}
}

// fakeGCS is a fake-gcs-server (scripts/storage-servers.sh builds it) on loopback, with its buckets from dir.
func startFakeGCS(t testing.TB, dir string) string {
	t.Helper()
	bin := storagetest.FakeGCSBin()
	requireServer(t, bin)
	port := freePort(t, "127.0.0.1")
	base := "http://127.0.0.1:" + port
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", port, "-backend", "memory",
		"-data", dir, "-external-url", base, "-log-level", "error")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	poll(t, 30*time.Second, "fake-gcs-server to answer", func() bool {
		resp, err := http.Get(base + "/storage/v1/b")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// GCS through rclone's endpoint override (rclone 1.60 has one): MOUNT_CACHED on a fake-gcs-server bucket, a job
// writes, and the object is there when the job is reported finished.
func TestMountGCSCachedFlushedBeforeJobEnds(t *testing.T) {
	requireFUSE(t)
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "gbucket", "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "gbucket", "in", "seed.txt"), []byte("seed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	endpoint := startFakeGCS(t, data)
	c := startCluster(t, "gmnt", []nodeOpts{{cpus: 2}})
	a := c.agents[0]
	m := Mount{Dest: "~/g", Mode: MountModeCached, Store: StoreGCS, Bucket: "gbucket", Endpoint: endpoint}
	cp := Mount{Dest: "~/gcopy", Mode: MountModeCopy, Store: StoreGCS, Bucket: "gbucket", Prefix: "in", Endpoint: endpoint}
	if _, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{m, cp}}); err != nil {
		t.Fatalf("mount: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(a.dir, "gcopy", "seed.txt")); err != nil || string(b) != "seed\n" {
		t.Fatalf("COPY from GCS: %q, %v", b, err)
	}
	id := c.submit(t, JobSpec{Run: `cat ~/g/in/seed.txt && echo out > ~/g/result.txt`})
	c.waitStatus(t, id, StatusSucceeded)
	resp, err := http.Get(endpoint + "/storage/v1/b/gbucket/o/result.txt?alt=media")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "out\n" {
		t.Fatalf("object after the job: HTTP %d %q", resp.StatusCode, body)
	}
	if logs := c.logs(t, id, false, 0); !strings.Contains(logs, "seed") {
		t.Fatalf("job log %q: want the seed read through the mount", logs)
	}
}

func TestMountWithoutRclone(t *testing.T) {
	requireFUSE(t)
	a := startAgent(t, "127.0.0.1", []string{"PATH=" + t.TempDir()})
	capab, err := a.client.MountCapability(ctxT(t))
	if err != nil || capab.CanMount || !strings.Contains(capab.Reason, "rclone is not installed") {
		t.Fatalf("capability = %+v, %v; want rclone missing", capab, err)
	}
}

// rclone's command line never carries a secret (other users can read it in /proc); its environment does.
func TestRcloneConfigOnlyInEnvironment(t *testing.T) {
	m := Mount{Dest: "/d", Mode: MountModeCached, Store: StoreR2, Bucket: "b", Prefix: "p/q", Endpoint: "https://acct.r2.cloudflarestorage.com",
		Creds: StoreCreds{AccessKeyID: "id", SecretAccessKey: "sk-secret", SessionToken: "tok-secret"}}
	args := strings.Join(rcloneArgs(m, "/d", "127.0.0.1:1", "/c", "/l"), " ")
	if strings.Contains(args, "secret") || !strings.Contains(args, "stix:b/p/q /d") || !strings.Contains(args, "--vfs-cache-mode writes") {
		t.Fatalf("args = %s", args)
	}
	env := strings.Join(rcloneEnv(m, "u", "p"), "\n")
	for _, want := range []string{"RCLONE_CONFIG_STIX_TYPE=s3", "RCLONE_CONFIG_STIX_PROVIDER=Cloudflare",
		"RCLONE_CONFIG_STIX_SECRET_ACCESS_KEY=sk-secret", "RCLONE_CONFIG_STIX_SESSION_TOKEN=tok-secret",
		"RCLONE_CONFIG_STIX_REGION=auto", "RCLONE_CONFIG_STIX_ENDPOINT=https://acct.r2.cloudflarestorage.com"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	g := Mount{Store: StoreGCS, Bucket: "g", Creds: StoreCreds{GCSAccessToken: "ya29.x"}}
	if env := strings.Join(rcloneEnv(g, "u", "p"), "\n"); !strings.Contains(env, `RCLONE_CONFIG_STIX_TOKEN={"access_token":"ya29.x","token_type":"Bearer"}`) {
		t.Errorf("gcs token environment: %s", env)
	}
}

// COPY downloads the prefix's objects before the call returns (storage.Download: no rclone, no FUSE).
func TestMountCopy(t *testing.T) {
	s := startMinIO(t)
	s.makeBucket(t, "src")
	s.put(t, "src/in/a.txt", "A\n")
	s.put(t, "src/in/sub/b.txt", "B\n")
	s.put(t, "src/other.txt", "no\n")
	a := startAgent(t, "127.0.0.1", []string{"STIX_FUSE_DEVICE=/nonexistent/fuse"}) // COPY needs no FUSE
	dest := filepath.Join(a.dir, "copied")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "local.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/copied", MountModeCopy, "src", "in")}}); err != nil {
		t.Fatalf("copy: %v", err)
	}
	for f, want := range map[string]string{"a.txt": "A\n", "sub/b.txt": "B\n", "local.txt": "mine\n"} {
		if b, err := os.ReadFile(filepath.Join(dest, f)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", f, b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "other.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an object outside the prefix was copied: %v", err)
	}
	if l, _ := a.client.Mounts(ctxT(t)); len(l.Mounts) != 0 {
		t.Errorf("a copy is not a mount to track: %+v", l)
	}
	// A prefix that names one object copies that object to the destination, as a file (SkyPilot's
	// `~/f: s3://bucket/path/file`).
	if _, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/one/other.txt", MountModeCopy, "src", "other.txt")}}); err != nil {
		t.Fatalf("copy of one object: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(a.dir, "one", "other.txt")); err != nil || string(b) != "no\n" {
		t.Errorf("one object copied: %q, %v; want the file", b, err)
	}
	bad := s.mount("~/nope", MountModeCopy, "no-such-bucket", "")
	if _, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{bad}}); err == nil || !strings.Contains(err.Error(), "s3://no-such-bucket") {
		t.Fatalf("copy of a missing bucket: %v; want an error naming it", err)
	}
}

// A flush that cannot finish (the bucket is gone) turns a job that exited 0 into FAILED, says why in its log,
// and KillAll still unmounts (reporting the files it could not upload).
func TestMountCachedFlushFailureFailsJob(t *testing.T) {
	requireFUSE(t)
	t.Setenv("STIX_MOUNT_FLUSH_TIMEOUT", "2s") // KillAll, in this process
	s := startMinIO(t)
	s.makeBucket(t, "gone")
	c := startCluster(t, "fl", []nodeOpts{{cpus: 2, env: []string{"STIX_MOUNT_FLUSH_TIMEOUT=2s"}}})
	a := c.agents[0]
	if _, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/out", MountModeCached, "gone", "")}}); err != nil {
		t.Fatalf("mount: %v", err)
	}
	s.rclone(t, "", "purge", "stix:gone")
	id := c.submit(t, JobSpec{Run: `echo weights > ~/out/ckpt`})
	j := c.waitStatus(t, id, StatusFailed)
	if !strings.Contains(j.Message, "MOUNT_CACHED flush failed") || !strings.Contains(j.Message, "s3://gone") ||
		j.ExitCode == nil || *j.ExitCode != 0 {
		t.Fatalf("job = %+v; want FAILED with exit code 0 and the flush failure", j)
	}
	if logs := c.logs(t, id, false, 0); !strings.Contains(logs, "ERROR: Job 1: MOUNT_CACHED flush failed") {
		t.Fatalf("job log lacks the flush failure: %q", logs)
	}
	dest := filepath.Join(a.dir, "out")
	err := KillAll(a.dir)
	if err == nil || !strings.Contains(err.Error(), "not done within 2s") {
		t.Fatalf("KillAll: %v; want the flush failure reported", err)
	}
	if fuseMounted(t, dest) {
		t.Fatal("still mounted after KillAll")
	}
}

// The head asks every node of the job to flush: a worker's MOUNT_CACHED write is in the bucket when the job is
// reported finished.
func TestMountCachedFlushedOnWorker(t *testing.T) {
	requireFUSE(t)
	s := startMinIO(t)
	s.makeBucket(t, "multi")
	c := startCluster(t, "mw", []nodeOpts{{cpus: 1}, {cpus: 1}})
	w := c.agents[1]
	if _, err := w.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/out", MountModeCached, "multi", "")}}); err != nil {
		t.Fatalf("mount on the worker: %v", err)
	}
	id := c.submit(t, JobSpec{NumNodes: 2, DemandPerNode: Demand{CPUs: 1},
		Run: `if [ "$SKYPILOT_NODE_RANK" = 1 ]; then echo from-worker > ~/out/w.txt; fi`})
	c.waitStatus(t, id, StatusSucceeded)
	if got := s.get(t, "multi/w.txt"); got != "from-worker\n" {
		t.Fatalf("worker's object when the job finished = %q", got)
	}
}

// A node that ends itself for autostop flushes and unmounts its buckets before it exits.
func TestMountAutostopShutdownUnmounts(t *testing.T) {
	requireFUSE(t)
	s := startMinIO(t)
	s.makeBucket(t, "auto")
	a := startAgent(t, "127.0.0.1", nil)
	res, err := a.client.Mount(ctxT(t), MountsRequest{Mounts: []Mount{s.mount("~/out", MountModeCached, "auto", "")}})
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	dest := filepath.Join(a.dir, "out")
	if err := os.WriteFile(filepath.Join(dest, "last.ckpt"), []byte("final\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.client.Shutdown(ctxT(t), ShutdownRequest{Exit: ExitAgent}); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	waitGone(t, a.cmd.Process.Pid, "the agent after shutdown")
	waitGone(t, res.Mounts[0].PID, "rclone after shutdown")
	if fuseMounted(t, dest) {
		t.Fatal("still mounted after the autostop shutdown")
	}
	if got := s.get(t, "auto/last.ckpt"); got != "final\n" {
		t.Fatalf("object after the autostop shutdown = %q", got)
	}
}

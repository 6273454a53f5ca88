package stix_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
	"github.com/stix-run/stix/internal/testutil/storagetest"
)

// minioCmd is the script command `minio [IP]`: a real MinIO server (scripts/storage-servers.sh builds it) on a free
// port of IP (127.0.0.1 when not given) for the rest of the script, reached by stix as the AWS SDKs would through
// AWS_ENDPOINT_URL_S3 and the key variables it sets. IP is where nodes that are not this machine reach it: the
// docker0 gateway ($DOCKER_BRIDGE_IP) for containers, the netns bridge ($SSH_BRIDGE_IP) for the SSH pool's hosts;
// the endpoint stix uses here is that same address. A script skips itself where MinIO is not built with
// `[!minio] skip` (see scriptCondition).
func minioCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: minio [IP]")
	}
	ip := "127.0.0.1"
	if len(args) == 1 {
		if net.ParseIP(args[0]) == nil {
			ts.Fatalf("minio: %q is not an IP address", args[0])
		}
		ip = args[0]
	}
	bin := storagetest.MinIOBin()
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		ts.Fatalf("no MinIO at %s: build it with scripts/storage-servers.sh", bin)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	dir := ts.MkAbs("minio")
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", "127.0.0.1:0", filepath.Join(dir, "data"))
	cmd.Env = []string{"MINIO_ROOT_USER=" + storagetest.AccessKey, "MINIO_ROOT_PASSWORD=" + storagetest.SecretKey,
		"MINIO_UPDATE=off", "MINIO_BROWSER=off", "MINIO_REGION=us-east-1", "MINIO_CI_CD=1", "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(cmd.Start())
	ts.Defer(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	url := "http://" + addr
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(90 * time.Second); ; {
		resp, err := c.Get(url + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("MinIO at %s did not answer in 90s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the server's health, with a deadline
	}
	ts.Setenv("AWS_ENDPOINT_URL_S3", url)
	ts.Setenv("AWS_ACCESS_KEY_ID", storagetest.AccessKey)
	ts.Setenv("AWS_SECRET_ACCESS_KEY", storagetest.SecretKey)
}

// s3catCmd is the script command `s3cat BUCKET KEY`: the object's content, read with stix's own S3 client from the
// MinIO of the `minio` command, as the script's stdout. `! s3cat BUCKET KEY` asserts the object (or the bucket) is
// not there. There is no waiting: what a job wrote through a mount must be in the bucket when the command runs.
func s3catCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: s3cat BUCKET KEY")
	}
	if ts.Getenv("AWS_ENDPOINT_URL_S3") == "" {
		ts.Fatalf("s3cat: no MinIO: run `minio` first")
	}
	c := scriptS3(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body, _, err := c.Get(ctx, args[0], args[1])
	if err != nil {
		if neg && (errors.Is(err, storage.ErrNoSuchKey) || errors.Is(err, storage.ErrNoSuchBucket)) {
			return
		}
		ts.Fatalf("s3cat %s %s: %v", args[0], args[1], err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	ts.Check(err)
	if neg {
		ts.Fatalf("s3://%s/%s exists (%d bytes)", args[0], args[1], len(data))
	}
	_, _ = ts.Stdout().Write(data)
}

// scriptCondition answers the scripts' own conditions: [minio] holds where MinIO is built, or where
// STIX_REQUIRE_STORAGE=1 requires it (the `minio` command then fails rather than the script being skipped).
func scriptCondition(cond string) (bool, error) {
	if cond != "minio" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if os.Getenv("STIX_REQUIRE_STORAGE") == "1" {
		return true, nil
	}
	fi, err := os.Stat(storagetest.MinIOBin())
	return err == nil && fi.Mode()&0o111 != 0, nil
}

// scriptS3 is an S3 client of the script's MinIO (the `minio` command's variables).
func scriptS3(ts *testscript.TestScript) *s3.Client {
	// MinIO's own keys, whatever credentials the script gives stix (storage_profile.txtar clears the variables).
	c, err := s3.New(s3.Config{Endpoint: storage.Endpoint{URL: ts.Getenv("AWS_ENDPOINT_URL_S3")},
		Credentials: s3.Static{AccessKeyID: storagetest.AccessKey, SecretAccessKey: storagetest.SecretKey}})
	ts.Check(err)
	return c
}

// mkbucketCmd is the script command `mkbucket NAME`: a bucket made in the script's MinIO behind stix's back, as a
// user's own bucket is.
func mkbucketCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkbucket NAME")
	}
	ts.Check(scriptS3(ts).CreateBucket(context.Background(), args[0]))
}

// waitbucketemptyCmd is the script command `waitbucketempty BUCKET PREFIX`: waits until the bucket holds no
// object under PREFIX.
func waitbucketemptyCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitbucketempty BUCKET PREFIX")
	}
	c := scriptS3(ts)
	poll(ts, fmt.Sprintf("s3://%s/%s to be empty", args[0], args[1]), func() (bool, error) {
		var keys []string
		err := c.List(context.Background(), args[0], args[1], func(o storage.Object) error {
			keys = append(keys, o.Key)
			return nil
		})
		if err == nil && len(keys) > 0 {
			err = fmt.Errorf("left: %v", keys)
		}
		return err == nil, err
	})
}

// waitbucketgoneCmd is the script command `waitbucketgone BUCKET`: waits until the bucket does not exist.
func waitbucketgoneCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitbucketgone BUCKET")
	}
	c := scriptS3(ts)
	poll(ts, fmt.Sprintf("s3://%s to be gone", args[0]), func() (bool, error) {
		ok, err := c.BucketExists(context.Background(), args[0])
		if err == nil && ok {
			err = errors.New("it exists")
		}
		return err == nil, err
	})
}

// waitobjectCmd is the script command `waitobject BUCKET KEY CONTENT`: waits until the object holds CONTENT (a
// line; the object's text without its last newline).
func waitobjectCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitobject BUCKET KEY CONTENT")
	}
	c := scriptS3(ts)
	poll(ts, fmt.Sprintf("s3://%s/%s to hold %q", args[0], args[1], args[2]), func() (bool, error) {
		rc, _, err := c.Get(context.Background(), args[0], args[1])
		if err != nil {
			return false, err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return false, err
		}
		if got := strings.TrimSuffix(string(b), "\n"); got != args[2] {
			return false, fmt.Errorf("it holds %q", got)
		}
		return true, nil
	})
}

// dockerBridgeIP is the docker0 gateway, an address of this machine that containers reach (and no wider), or ""
// where there is no docker0.
func dockerBridgeIP() string {
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		return ""
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/agent/envknob"
	"github.com/stix-run/stix/internal/agent/proc"
)

// rcloneFSType is the file system type of an rclone mount in /proc/self/mountinfo.
const rcloneFSType = "fuse.rclone"

// rcloneRemote is the name of the one remote each rclone process is configured with (RCLONE_CONFIG_STIX_*).
const rcloneRemote = "stix"

// rcloneEnv is the environment of an rclone process for mt: the agent's own, less any RCLONE_ variable, plus the
// remote's configuration. This is the only place the credentials go (never a file, never a log line).
func rcloneEnv(mt Mount, rcUser, rcPass string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "RCLONE_"):
		case strings.HasPrefix(kv, "AWS_CA_BUNDLE="):
			// rclone 1.60's S3 client fails on AWS_CA_BUNDLE ("unable to load custom CA bundle, HTTPClient's
			// transport unsupported type"); rclone's own option takes the same file.
			if v := strings.TrimPrefix(kv, "AWS_CA_BUNDLE="); v != "" {
				env = append(env, "RCLONE_CA_CERT="+v)
			}
		default:
			env = append(env, kv)
		}
	}
	set := func(k, v string) {
		if v != "" {
			env = append(env, "RCLONE_CONFIG_"+strings.ToUpper(rcloneRemote)+"_"+k+"="+v)
		}
	}
	c := mt.Creds
	switch mt.Store {
	case StoreS3, StoreR2:
		set("TYPE", "s3")
		provider := "AWS"
		switch {
		case mt.Store == StoreR2:
			provider = "Cloudflare"
		case mt.Endpoint != "":
			provider = "Other"
		}
		set("PROVIDER", provider)
		set("ACCESS_KEY_ID", c.AccessKeyID)
		set("SECRET_ACCESS_KEY", c.SecretAccessKey)
		set("SESSION_TOKEN", c.SessionToken)
		if c.AccessKeyID == "" {
			set("ENV_AUTH", "true") // the node's own credentials: instance role, AWS_* variables
		}
		set("ENDPOINT", mt.Endpoint)
		region := mt.Region
		if region == "" && mt.Store == StoreR2 {
			region = "auto"
		}
		set("REGION", region)
		set("FORCE_PATH_STYLE", strconv.FormatBool(mt.PathStyle))
		set("NO_CHECK_BUCKET", "true") // never create the bucket: launch did, or it is the user's
	case StoreGCS:
		set("TYPE", "google cloud storage")
		if mt.Endpoint != "" {
			set("ENDPOINT", gcsRoot(mt.Endpoint)+"/storage/v1/") // rclone takes the JSON API's base
		}
		set("BUCKET_POLICY_ONLY", "true") // uniform bucket-level access: no per-object ACLs
		switch {
		case c.GCSServiceAccount != "":
			set("SERVICE_ACCOUNT_CREDENTIALS", c.GCSServiceAccount)
		case c.GCSAccessToken != "":
			tok, _ := json.Marshal(map[string]string{"access_token": c.GCSAccessToken, "token_type": "Bearer"})
			set("TOKEN", string(tok))
		default:
			set("ANONYMOUS", "true")
		}
	}
	env = append(env, "RCLONE_RC_USER="+rcUser, "RCLONE_RC_PASS="+rcPass)
	return env
}

// rcPassword is the password of a mount's rclone remote control: derived from the agent's secret and the mount's
// nonce, so that the agent (and KillAll) can compute it and nothing secret is stored for it.
func rcPassword(secret []byte, nonce string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("stix rclone rc " + nonce))
	return hex.EncodeToString(h.Sum(nil))
}

const rcUser = "stix"

// rcloneArgs is the command line of an rclone mount (no secret: those are in the environment).
func rcloneArgs(mt Mount, dest, rcAddr, cacheDir, logPath string) []string {
	src := rcloneRemote + ":" + mt.Bucket
	if p := strings.Trim(mt.Prefix, "/"); p != "" {
		src += "/" + p
	}
	args := []string{"mount", src, dest,
		"--rc", "--rc-addr", rcAddr,
		"--cache-dir", cacheDir,
		"--log-file", logPath, "--log-level", "NOTICE",
		"--dir-cache-time", "30s",
	}
	if mt.Mode == MountModeCached {
		// Writes land in the cache and are uploaded 1 s after the file is closed; a flush waits for them.
		args = append(args, "--vfs-cache-mode", "writes", "--vfs-write-back", "1s")
	} else {
		args = append(args, "--vfs-cache-mode", "off")
	}
	if mt.ReadOnly {
		args = append(args, "--read-only")
	}
	return append(args, strings.Fields(mt.MountOptions)...)
}

// startRclone starts `rclone mount` for mt at dest in its own session and waits until the mount is live and
// answers a listing of the bucket (which is what fails on a bad credential or a missing bucket).
func (m *mountManager) startRclone(ctx context.Context, mt Mount, dest, fp string) (mountRecord, error) {
	bin, err := exec.LookPath("rclone")
	if err != nil {
		return mountRecord{}, fmt.Errorf("cannot mount: rclone is not installed on this node (install the rclone package)")
	}
	mdir := filepath.Join(m.dir, "mounts")
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		return mountRecord{}, err
	}
	// One name per destination, so that a mount made again at the same place finds its cache (and uploads what a
	// failed flush left there).
	key := mountFingerprint(Mount{}, dest)[:16]
	cacheDir, logPath := filepath.Join(mdir, "cache-"+key), filepath.Join(mdir, key+".log")
	_ = os.Remove(logPath)
	rcAddr, err := freeLoopbackAddr()
	if err != nil {
		return mountRecord{}, err
	}
	nonce := randomHex(16)
	env := rcloneEnv(mt, rcUser, rcPassword(m.secret, nonce))
	if err := checkBucket(ctx, bin, mt, env); err != nil {
		return mountRecord{}, fmt.Errorf("mount %s at %s: %w", bucketURI(mt.Store, mt.Bucket, mt.Prefix), dest, err)
	}
	cmd := exec.Command(bin, rcloneArgs(mt, dest, rcAddr, cacheDir, logPath)...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stderr bytes.Buffer // before --log-file takes over: bad flags
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return mountRecord{}, fmt.Errorf("start rclone: %w", err)
	}
	ticks, _ := proc.StartTicks(cmd.Process.Pid)
	rec := mountRecord{Dest: dest, Mode: mt.Mode, Store: mt.Store, Bucket: mt.Bucket, Prefix: strings.Trim(mt.Prefix, "/"),
		Fingerprint: fp, PID: cmd.Process.Pid, StartTicks: ticks, RCAddr: rcAddr, RCNonce: nonce, Log: logPath,
		CacheDir: cacheDir, StartedAt: time.Now().UTC()}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // our child: reap it whenever it ends
	fail := func(err error) (mountRecord, error) {
		_ = unmountRecord(ctx, rec, m.secret)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		tail := logTail(logPath, stderr.String())
		if tail != "" {
			err = fmt.Errorf("%w; rclone said: %s", err, tail)
		}
		return mountRecord{}, fmt.Errorf("mount %s: %w", rec.what(), err)
	}
	deadline := time.NewTimer(mountLiveTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if mounted, err := mountTable(); err == nil && mounted[dest] == rcloneFSType {
			break
		}
		select {
		case <-exited:
			return fail(fmt.Errorf("rclone exited before the mount was made"))
		case <-deadline.C:
			return fail(fmt.Errorf("the mount did not appear within %v", mountLiveTimeout))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-tick.C:
		}
	}
	// A listing reaches the store: a bad credential, an unknown bucket or an unreachable endpoint fails here, not
	// in the job.
	listed := make(chan error, 1)
	go func() { _, err := os.ReadDir(dest); listed <- err }()
	select {
	case err := <-listed:
		if err != nil {
			return fail(fmt.Errorf("the store refused to list the bucket (check the bucket's name, the credentials and the endpoint): %w", err))
		}
	case <-exited:
		return fail(fmt.Errorf("rclone exited"))
	case <-deadline.C:
		return fail(fmt.Errorf("listing the bucket did not answer within %v", mountLiveTimeout))
	}
	return rec, nil
}

// checkBucket asks the store, before mounting, for a listing under a name nobody uses: one request, answered
// with nothing when the bucket exists and the credentials may list it, and with an error otherwise. (A mount of
// a bucket that does not exist looks empty, and only its uploads would fail.)
func checkBucket(ctx context.Context, bin string, mt Mount, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, mountLiveTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "lsjson", "--max-depth", "1", "--retries", "1", "--low-level-retries", "2",
		rcloneRemote+":"+mt.Bucket+"/.stix-bucket-check-"+randomHex(4))
	cmd.Env, cmd.Dir = env, "/"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tail := logTail("", stderr.String())
		if strings.Contains(tail, "directory not found") {
			return fmt.Errorf("bucket %q does not exist at %s (or these credentials cannot see it): create it, or check the name and the endpoint",
				mt.Bucket, storeEndpoint(mt))
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the store at %s did not answer within %v", storeEndpoint(mt), mountLiveTimeout)
		}
		return fmt.Errorf("the store refused to list the bucket (check the credentials and the endpoint): %s", tail)
	}
	return nil
}

func storeEndpoint(mt Mount) string {
	switch {
	case mt.Endpoint != "":
		return mt.Endpoint
	case mt.Store == StoreGCS:
		return "storage.googleapis.com"
	}
	return "AWS S3"
}

// freeLoopbackAddr picks a free loopback port for rclone's remote control.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// logTail is the end of rclone's log (and of its stderr before the log took over), for error messages.
func logTail(path, stderr string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(stderr + "\n" + string(b))
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "Config file") {
			lines = append(lines, l)
		}
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// mountTable maps each mount point of this mount namespace to its file system type.
func mountTable() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read the mount table: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		for i := 6; i < len(f)-1; i++ {
			if f[i] == "-" {
				out[unescapeMountinfo(f[4])] = f[i+1]
				break
			}
		}
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes the octal escapes of mountinfo (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// vfsStats is the part of rclone's `vfs/stats` answer a flush looks at (rclone 1.60: present with a cache).
type vfsStats struct {
	DiskCache *struct {
		UploadsInProgress int `json:"uploadsInProgress"`
		UploadsQueued     int `json:"uploadsQueued"`
		ErroredFiles      int `json:"erroredFiles"`
	} `json:"diskCache"`
}

// waitFlushed polls a MOUNT_CACHED mount until nothing written to it waits for upload: rclone's queue is empty
// and no cached file is dirty. A file is marked dirty in the cache's metadata as soon as it is written, before
// its writer closes it; so when the job's processes have ended, no dirty file means everything is in the bucket.
func waitFlushed(ctx context.Context, r mountRecord, secret []byte, timeout time.Duration) error {
	if !r.alive() {
		if dirty := dirtyFiles(r.CacheDir); len(dirty) > 0 {
			return fmt.Errorf("flush %s: rclone (pid %d) has exited with %d files not uploaded (e.g. %s); they stay in %s",
				r.what(), r.PID, len(dirty), dirty[0], r.CacheDir)
		}
		return nil
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	pass := rcPassword(secret, r.RCNonce)
	backoff := 50 * time.Millisecond
	var last string
	for {
		st, err := rcStats(ctx, hc, r.RCAddr, pass)
		switch {
		case err != nil:
			// rclone's remote control does not answer as it should: the cache's metadata alone still says
			// whether something waits for upload.
			dirty := dirtyFiles(r.CacheDir)
			if len(dirty) == 0 {
				return nil
			}
			last = fmt.Sprintf("%v; %d files not uploaded", err, len(dirty))
		case st.DiskCache == nil:
			return nil // no cache: writes went straight to the store
		default:
			dirty := dirtyFiles(r.CacheDir)
			if st.DiskCache.UploadsQueued == 0 && st.DiskCache.UploadsInProgress == 0 && len(dirty) == 0 {
				return nil
			}
			last = fmt.Sprintf("%d uploads queued, %d in progress, %d failed and retried, %d files not uploaded",
				st.DiskCache.UploadsQueued, st.DiskCache.UploadsInProgress, st.DiskCache.ErroredFiles, len(dirty))
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("flush %s: not done within %v: %s", r.what(), timeout, last)
			if tail := logTail(r.Log, ""); tail != "" {
				msg += "; rclone said: " + tail
			}
			return fmt.Errorf("%s (the files stay in %s on the node)", msg, r.CacheDir)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func rcStats(ctx context.Context, hc *http.Client, addr, pass string) (vfsStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/vfs/stats", strings.NewReader("{}"))
	if err != nil {
		return vfsStats{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(rcUser, pass)
	resp, err := hc.Do(req)
	if err != nil {
		return vfsStats{}, fmt.Errorf("ask rclone for its upload queue: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return vfsStats{}, fmt.Errorf("ask rclone for its upload queue: HTTP %d", resp.StatusCode)
	}
	var st vfsStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return vfsStats{}, fmt.Errorf("rclone's vfs/stats: %w", err)
	}
	return st, nil
}

// dirtyFiles lists the cached files of a mount that are not uploaded yet (rclone's vfsMeta records, "Dirty").
func dirtyFiles(cacheDir string) []string {
	if cacheDir == "" {
		return nil
	}
	meta := filepath.Join(cacheDir, "vfsMeta")
	var out []string
	_ = filepath.WalkDir(meta, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed since the walk listed it
		}
		// A record that cannot be read or parsed is being rewritten by rclone right now (it truncates and writes
		// in place): count it as dirty, the next poll reads it whole.
		var info struct{ Dirty bool }
		if err != nil || json.Unmarshal(b, &info) != nil || info.Dirty {
			rel, _ := filepath.Rel(meta, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

var (
	rcloneVersionOnce sync.Once
	rcloneVersion     string
)

// ProbeMount says whether this machine can make FUSE mounts: a FUSE device, rclone, the unmount helper, and the
// privilege to mount (CAP_SYS_ADMIN for root, a set-uid fusermount otherwise). An agent answers it at
// GET /v1/mounts/capability; launch on local infra may call it directly, before provisioning.
func ProbeMount() MountCapability {
	c := MountCapability{}
	dev := envknob.FuseDevice.Get()
	if dev == "" {
		dev = "/dev/fuse"
	}
	fi, err := os.Stat(dev)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		c.Reason = dev + " is missing: the node has no FUSE device (a container needs --device /dev/fuse --cap-add SYS_ADMIN; " +
			"a Kubernetes pod a privileged container or a FUSE device plugin); use mode: COPY instead"
		return c
	}
	c.Fuse = dev
	bin, err := exec.LookPath("rclone")
	if err != nil {
		c.Reason = "rclone is not installed on this node (install the rclone package); use mode: COPY instead"
		return c
	}
	rcloneVersionOnce.Do(func() {
		out, _ := exec.Command(bin, "version").Output()
		rcloneVersion, _, _ = strings.Cut(string(out), "\n")
	})
	c.Rclone = strings.TrimSpace(bin + " " + rcloneVersion)
	fm := fusermountBin()
	c.Unmount = fm
	if os.Geteuid() == 0 {
		if !hasCapSysAdmin("CapEff") {
			c.Reason = "the agent runs as root without CAP_SYS_ADMIN, which mounting needs (a container needs --cap-add SYS_ADMIN); use mode: COPY instead"
			return c
		}
	} else {
		if fm == "" {
			c.Reason = "neither fusermount3 nor fusermount is installed (install the fuse3 package); use mode: COPY instead"
			return c
		}
		if st, err := os.Stat(fm); err != nil || st.Mode()&os.ModeSetuid == 0 || !hasCapSysAdmin("CapBnd") {
			c.Reason = fm + " cannot mount for a non-root user here (it is not set-uid root, or CAP_SYS_ADMIN is not in the bounding set); use mode: COPY instead"
			return c
		}
	}
	c.CanMount = true
	return c
}

// hasCapSysAdmin reads a capability set of this process (/proc/self/status) for CAP_SYS_ADMIN (bit 21).
func hasCapSysAdmin(set string) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, set+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<21) != 0
		}
	}
	return false
}

package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/agent/envknob"
	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/atomicfile"
)

// Bucket mounts (docs/storage-mounts.md): MOUNT and MOUNT_CACHED are `rclone mount` processes that the agent
// starts in their own sessions, configured only through their environment (nothing secret on the node's disk),
// and records in DIR/mounts.json (no secret there either) so that a restarted agent adopts them and KillAll
// flushes and unmounts them with the agent dead.

// MountsFile is the node's mount table, in its agent's directory.
const MountsFile = "mounts.json"

// mountLiveTimeout bounds the wait for an rclone mount to appear in the mount table and answer a listing.
const mountLiveTimeout = 30 * time.Second

// mountRecord is one entry of DIR/mounts.json: a live rclone mount. It holds no secret: Fingerprint is a hash of
// the request (credentials included), so that an identical request is recognised; RCNonce, with the agent's
// secret, gives the password of rclone's remote control (rcPassword).
type mountRecord struct {
	Dest        string    `json:"dest"`
	Mode        MountMode `json:"mode"`
	Store       string    `json:"store"`
	Bucket      string    `json:"bucket"`
	Prefix      string    `json:"prefix,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	PID         int       `json:"pid"`
	StartTicks  uint64    `json:"start_ticks"`
	RCAddr      string    `json:"rc_addr"`
	RCNonce     string    `json:"rc_nonce"`
	Log         string    `json:"log"`
	CacheDir    string    `json:"cache_dir,omitempty"`
	StartedAt   time.Time `json:"started_at"`
}

func (r mountRecord) status() MountStatus {
	return MountStatus{Dest: r.Dest, Mode: r.Mode, Store: r.Store, Bucket: r.Bucket, Prefix: r.Prefix, PID: r.PID}
}

func (r mountRecord) alive() bool { return proc.Alive(r.PID, r.StartTicks) }

// what names the mount in errors: the bucket URI and where it is mounted.
func (r mountRecord) what() string { return bucketURI(r.Store, r.Bucket, r.Prefix) + " at " + r.Dest }

func bucketURI(store, bucket, prefix string) string {
	scheme := map[string]string{StoreS3: "s3", StoreGCS: "gs", StoreR2: "r2"}[store]
	if scheme == "" {
		scheme = store
	}
	u := scheme + "://" + bucket
	if prefix != "" {
		u += "/" + prefix
	}
	return u
}

// mountManager makes, flushes and removes this node's mounts. One operation at a time (mu).
type mountManager struct {
	dir, home string
	secret    []byte
	log       *slog.Logger
	mu        sync.Mutex
	recs      []mountRecord
}

func newMountManager(dir, home string, secret []byte, log *slog.Logger) (*mountManager, error) {
	m := &mountManager{dir: dir, home: home, secret: secret, log: log}
	recs, err := readMountTable(dir)
	if err != nil {
		return nil, err
	}
	// Adopt what a previous agent mounted: live rclone processes whose mount is still there.
	var mounted map[string]string
	mounted, _ = mountTable()
	for _, r := range recs {
		if r.alive() && mounted[r.Dest] == rcloneFSType {
			log.Info("adopted bucket mount", "dest", r.Dest, "bucket", r.Bucket, "pid", r.PID)
			m.recs = append(m.recs, r)
			continue
		}
		log.Warn("bucket mount is gone; cleaning up", "dest", r.Dest, "bucket", r.Bucket, "pid", r.PID)
		m.cleanup(r, mounted)
	}
	if len(recs) != len(m.recs) {
		if err := m.save(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func readMountTable(dir string) ([]mountRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, MountsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the mount table: %w", err)
	}
	var recs []mountRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("read the mount table %s: %w (remove it after unmounting its mounts)", filepath.Join(dir, MountsFile), err)
	}
	return recs, nil
}

// save writes the table (called with mu held).
func (m *mountManager) save() error {
	b, err := json.MarshalIndent(m.recs, "", "  ")
	if err != nil {
		return err
	}
	if len(m.recs) == 0 {
		b = []byte("[]")
	}
	return atomicfile.Write(filepath.Join(m.dir, MountsFile), append(b, '\n'), 0o600)
}

// list reports the mounts.
func (m *mountManager) list() MountsResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := MountsResponse{Mounts: []MountStatus{}}
	for _, r := range m.recs {
		st := r.status()
		if !r.alive() {
			st.Error = "the rclone process has exited; see " + r.Log
		}
		out.Mounts = append(out.Mounts, st)
	}
	return out
}

// dest resolves a mount's destination on this node: absolute, or relative to the jobs' home.
func (m *mountManager) dest(d string) (string, error) {
	d = strings.TrimSpace(d)
	if d == "" {
		return "", fmt.Errorf("%w: mount destination is empty", ErrInvalid)
	}
	if d == "~" {
		return m.home, nil
	}
	d = strings.TrimPrefix(d, "~/")
	if !filepath.IsAbs(d) {
		d = filepath.Join(m.home, d)
	}
	d = filepath.Clean(d)
	if d == "/" {
		return "", fmt.Errorf("%w: cannot mount a bucket on /", ErrInvalid)
	}
	return d, nil
}

// validMount checks a request's fields that do not depend on the node.
func validMount(mt Mount) error {
	switch mt.Mode {
	case MountModeMount, MountModeCached, MountModeCopy:
	default:
		return fmt.Errorf("%w: mount %s: mode %q: want MOUNT, MOUNT_CACHED or COPY", ErrInvalid, mt.Dest, mt.Mode)
	}
	switch mt.Store {
	case StoreS3, StoreGCS, StoreR2:
	default:
		return fmt.Errorf("%w: mount %s: store %q: want s3, gcs or r2", ErrInvalid, mt.Dest, mt.Store)
	}
	if mt.Bucket == "" || strings.ContainsAny(mt.Bucket, "/: \t\n") {
		return fmt.Errorf("%w: mount %s: bucket name %q: want a bucket name without '/' or ':'", ErrInvalid, mt.Dest, mt.Bucket)
	}
	if mt.Store == StoreR2 && mt.Endpoint == "" {
		return fmt.Errorf("%w: mount %s: an r2 bucket needs the account's endpoint (https://ACCOUNT_ID.r2.cloudflarestorage.com)", ErrInvalid, mt.Dest)
	}
	return nil
}

// mountFingerprint identifies a request, credentials included, without revealing them.
func mountFingerprint(mt Mount, dest string) string {
	mt.Dest = dest
	b, _ := json.Marshal(mt)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// mount makes the request's mounts in order; each entry of the answer says how its mount went.
func (m *mountManager) mount(ctx context.Context, req MountsRequest) MountsResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := MountsResponse{Mounts: []MountStatus{}}
	seen := map[string]bool{}
	for _, mt := range req.Mounts {
		st := MountStatus{Dest: mt.Dest, Mode: mt.Mode, Store: mt.Store, Bucket: mt.Bucket, Prefix: mt.Prefix}
		dest, err := m.dest(mt.Dest)
		if err == nil && seen[dest] {
			err = fmt.Errorf("%w: two mounts onto %s in one request", ErrInvalid, dest)
		}
		if err == nil {
			seen[dest] = true
			st.Dest = dest
			err = validMount(mt)
		}
		if err == nil {
			var rec mountRecord
			rec, err = m.mountOne(ctx, mt, dest)
			st.PID = rec.PID
		}
		if err != nil {
			st.Error = err.Error()
			m.log.Warn("bucket mount failed", "dest", st.Dest, "bucket", mt.Bucket, "mode", mt.Mode, "err", err)
		}
		out.Mounts = append(out.Mounts, st)
	}
	return out
}

func (m *mountManager) find(dest string) int {
	for i, r := range m.recs {
		if r.Dest == dest {
			return i
		}
	}
	return -1
}

// mountOne makes one mount at dest (mu held).
func (m *mountManager) mountOne(ctx context.Context, mt Mount, dest string) (mountRecord, error) {
	fp := mountFingerprint(mt, dest)
	mounted, err := mountTable()
	if err != nil {
		return mountRecord{}, err
	}
	if i := m.find(dest); i >= 0 {
		old := m.recs[i]
		if old.Fingerprint == fp && old.alive() && mounted[dest] == rcloneFSType {
			return old, nil // the same mount again: nothing to do
		}
		// Another bucket, mode or credential on the same destination: the new request replaces the old mount,
		// once what was written to it is uploaded.
		if err := mountErrors(flushRecords(ctx, []mountRecord{old}, m.secret)); err != nil {
			return mountRecord{}, fmt.Errorf("replace the mount at %s: %w", dest, err)
		}
		if err := m.unmountOne(ctx, old); err != nil {
			return mountRecord{}, fmt.Errorf("replace the mount at %s: %w", dest, err)
		}
		m.recs = append(m.recs[:i], m.recs[i+1:]...)
		if err := m.save(); err != nil {
			return mountRecord{}, err
		}
		mounted, _ = mountTable()
	}
	if fs, ok := mounted[dest]; ok {
		return mountRecord{}, fmt.Errorf("%w: %s is already a mount point (%s) that this agent did not make: choose another destination", ErrConflict, dest, fs)
	}
	if mt.Mode == MountModeCopy {
		// A copy hides nothing: it may go into a directory that has files (they stay, or are replaced by the
		// bucket's objects of the same name).
		return mountRecord{}, copyBucket(ctx, mt, dest)
	}
	if err := emptyDir(dest); err != nil {
		return mountRecord{}, err
	}
	if capab := ProbeMount(); !capab.CanMount {
		return mountRecord{}, fmt.Errorf("cannot mount %s on this node: %s", bucketURI(mt.Store, mt.Bucket, mt.Prefix), capab.Reason)
	}
	rec, err := m.startRclone(ctx, mt, dest, fp)
	if err != nil {
		return mountRecord{}, err
	}
	m.recs = append(m.recs, rec)
	if err := m.save(); err != nil {
		m.unmountOne(ctx, rec)
		m.recs = m.recs[:len(m.recs)-1]
		return mountRecord{}, fmt.Errorf("record the mount at %s: %w", dest, err)
	}
	m.log.Info("bucket mounted", "dest", dest, "bucket", rec.Bucket, "mode", rec.Mode, "pid", rec.PID)
	return rec, nil
}

// emptyDir makes dest (as the agent's user, who runs the jobs) unless it exists, and refuses one that is not an
// empty directory: a mount would hide what is there.
func emptyDir(dest string) error {
	fi, err := os.Stat(dest)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("create the mount point: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dest, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: mount point %s exists and is not a directory: remove it or choose another destination", ErrConflict, dest)
	}
	f, err := os.Open(dest)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dest, err)
	}
	defer f.Close()
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("%w: mount point %s is not empty (it holds %s): a mount would hide its files; empty it or choose another destination",
			ErrConflict, dest, names[0])
	}
	return nil
}

// flush waits until every MOUNT_CACHED mount has uploaded what was written to it, up to the flush timeout.
func (m *mountManager) flush(ctx context.Context) MountsResponse {
	// Not under mu: a flush may take minutes, and listing the mounts meanwhile must not wait. The records are
	// values; a mount removed meanwhile is flushed from its cache's marks (waitFlushed).
	m.mu.Lock()
	recs := slices.Clone(m.recs)
	m.mu.Unlock()
	return flushRecords(ctx, recs, m.secret)
}

func flushRecords(ctx context.Context, recs []mountRecord, secret []byte) MountsResponse {
	timeout, err := envknob.MountFlushTimeout.Get()
	if err != nil {
		timeout = envknob.MountFlushTimeout.Default
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := MountsResponse{Mounts: []MountStatus{}}
	var wg sync.WaitGroup
	res := make([]MountStatus, len(recs))
	for i, r := range recs {
		res[i] = r.status()
		if r.Mode != MountModeCached {
			continue
		}
		wg.Go(func() {
			if err := waitFlushed(ctx, r, secret, timeout); err != nil {
				res[i].Error = err.Error()
			}
		})
	}
	wg.Wait()
	out.Mounts = append(out.Mounts, res...)
	return out
}

// unmount flushes and then removes every mount; the table ends empty (a mount that could not be removed is
// still reported, and stays recorded).
func (m *mountManager) unmount(ctx context.Context) MountsResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, left := unmountRecords(ctx, m.recs, m.secret, m.log)
	m.recs = left
	if err := m.save(); err != nil {
		m.log.Error("write the mount table", "err", err)
	}
	return out
}

func (m *mountManager) unmountOne(ctx context.Context, r mountRecord) error {
	return unmountRecord(ctx, r, m.secret)
}

// unmountRecords flushes every MOUNT_CACHED mount, then unmounts them all (a failed flush is reported, and the
// mount is still removed: its unsent files stay in its cache directory, which the next mount of the same
// bucket at the same place uploads). It returns the records it could not remove.
func unmountRecords(ctx context.Context, recs []mountRecord, secret []byte, log *slog.Logger) (MountsResponse, []mountRecord) {
	out := flushRecords(ctx, recs, secret)
	var left []mountRecord
	for i, r := range recs {
		if err := unmountRecord(ctx, r, secret); err != nil {
			out.Mounts[i].Error = strings.TrimPrefix(out.Mounts[i].Error+"; "+err.Error(), "; ")
			left = append(left, r)
			continue
		}
		if log != nil {
			log.Info("bucket unmounted", "dest", r.Dest, "bucket", r.Bucket)
		}
	}
	return out, left
}

// unmountRecord removes one mount and ends its rclone process.
func unmountRecord(_ context.Context, r mountRecord, _ []byte) error {
	mounted, _ := mountTable()
	var errs []error
	if mounted[r.Dest] == rcloneFSType {
		if err := fusermount(r.Dest, false); err != nil {
			errs = append(errs, err)
		}
	}
	if r.alive() {
		// rclone exits by itself once its mount is gone; SIGTERM makes it unmount and exit otherwise.
		if err := proc.StopProcess(r.PID, r.StartTicks, 5*time.Second); err != nil {
			return fmt.Errorf("stop rclone of %s: %w", r.what(), err)
		}
	}
	if mounted, _ = mountTable(); mounted[r.Dest] != "" {
		// Still there (a process holds a file open on it): detach it now, the kernel frees it when unused.
		if err := fusermount(r.Dest, true); err != nil {
			return fmt.Errorf("unmount %s: %w", r.what(), errors.Join(append(errs, err)...))
		}
	}
	return nil
}

// cleanup removes what is left of a mount whose rclone is gone (a stale mount point answers ENOTCONN).
func (m *mountManager) cleanup(r mountRecord, mounted map[string]string) {
	if r.alive() {
		_ = proc.StopProcess(r.PID, r.StartTicks, 5*time.Second)
	}
	if mounted[r.Dest] != "" {
		if err := fusermount(r.Dest, true); err != nil {
			m.log.Warn("remove a stale mount", "dest", r.Dest, "err", err)
		}
	}
}

// fusermount unmounts dest with fusermount3 (or fusermount), lazily (-z) when asked.
func fusermount(dest string, lazy bool) error {
	bin := fusermountBin()
	if bin == "" {
		// As root, the kernel's umount works without the helper.
		flags := 0
		if lazy {
			flags = syscall.MNT_DETACH
		}
		if err := syscall.Unmount(dest, flags); err != nil {
			return fmt.Errorf("unmount %s: %w", dest, err)
		}
		return nil
	}
	args := []string{"-u"}
	if lazy {
		args = append(args, "-z")
	}
	out, err := exec.Command(bin, append(args, dest)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), dest, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func fusermountBin() string {
	for _, b := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(b); err == nil {
			return p
		}
	}
	return ""
}

// unmountAll is KillAll's part: with the agent stopped, flush and unmount every recorded mount.
func unmountAll(dir string) error {
	recs, err := readMountTable(dir)
	if err != nil || len(recs) == 0 {
		return err
	}
	secret, _ := readSecret(filepath.Join(dir, "secret"))
	out, left := unmountRecords(context.Background(), recs, secret, nil)
	if err := atomicfile.Write(filepath.Join(dir, MountsFile), mustJSON(left), 0o600); err != nil {
		return err
	}
	return mountErrors(out)
}

func mustJSON(recs []mountRecord) []byte {
	if recs == nil {
		recs = []mountRecord{}
	}
	b, _ := json.Marshal(recs)
	return append(b, '\n')
}

// MountError is an answer of the mount routes in which some mounts failed.
type MountError struct{ Mounts []MountStatus }

func (e *MountError) Error() string {
	var msgs []string
	for _, m := range e.Mounts {
		if m.Error != "" {
			msgs = append(msgs, fmt.Sprintf("%s (%s): %s", m.Dest, bucketURI(m.Store, m.Bucket, m.Prefix), m.Error))
		}
	}
	return "bucket mounts failed: " + strings.Join(msgs, "; ")
}

// mountErrors returns a *MountError when some entry of r failed.
func mountErrors(r MountsResponse) error {
	for _, m := range r.Mounts {
		if m.Error != "" {
			return &MountError{Mounts: r.Mounts}
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

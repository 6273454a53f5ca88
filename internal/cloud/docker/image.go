// Package docker holds what the docker provider needs from the Docker Engine. For now that is the node image:
// stix/node, built on this machine without a registry from the host's bash and a static busybox.
package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/cloud/nodeagent"
	"github.com/stix-run/stix/internal/dockerapi"
)

// NodeImageRepo is the repository of the node image; its tag is stix's version.
const NodeImageRepo = "stix/node"

// NodeImageTag returns the node image's reference for a stix version ("dev" for an unversioned build).
func NodeImageTag(version string) string { return NodeImageRepo + ":" + version }

// commentPrefix starts the image comment that records the hash of the image's inputs: the cache key.
const commentPrefix = "stix node image, inputs sha256:"

// applets are the busybox commands the image links into /bin: what stix's setup scripts and node commands use.
var applets = []string{
	"sh", "ash", "awk", "base64", "basename", "cat", "chmod", "chown", "cp", "cut", "date", "dd", "df", "dirname",
	"du", "echo", "env", "expr", "false", "find", "grep", "gunzip", "gzip", "head", "hostname", "id", "kill", "ln",
	"ls", "mkdir", "mktemp", "mv", "nc", "nproc", "paste", "printf", "ps", "pwd", "readlink", "realpath",
	"rm", "rmdir", "sed", "seq", "setsid", "sha256sum", "sleep", "sort", "stat", "tail", "tar", "tee", "test",
	"timeout", "touch", "tr", "true", "uname", "uniq", "wc", "which", "whoami", "xargs",
}

// nohupScript stands in for nohup, which Debian's busybox-static lacks and job scripts often use: it runs a
// command immune to hangups, its terminal output appended to nohup.out, as coreutils' nohup does.
const nohupScript = `#!/bin/sh
if [ $# -eq 0 ]; then echo "nohup: missing operand" >&2; exit 125; fi
trap '' HUP
if [ -t 1 ]; then echo "nohup: ignoring input and appending output to 'nohup.out'" >&2; exec >>nohup.out; fi
if [ -t 2 ]; then exec 2>&1; fi
exec "$@"
`

// changes are the Dockerfile instructions applied at import (`docker import --change`).
var changes = []string{
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"ENV HOME=/root",
	"WORKDIR /root",
	`CMD ["/bin/sleep", "2147483647"]`,
}

// NodeImage describes the node image after EnsureNodeImage.
type NodeImage struct {
	// Ref is the image reference, such as stix/node:dev.
	Ref string
	// ID is the engine's image ID.
	ID string
	// InputsHash is the hash of the rootfs and settings the image was built from.
	InputsHash string
	// Built is true when this call imported the image, false when the engine already had it.
	Built bool
}

// MissingImageError says that the engine lacks an image stix needs; it tells the user how to get it.
type MissingImageError struct {
	Ref string
}

func (e *MissingImageError) Error() string {
	if strings.HasPrefix(e.Ref, NodeImageRepo+":") {
		return fmt.Sprintf("docker image %s is not on the Docker Engine: build it (stix builds it on first use "+
			"from the host's bash and busybox-static; install busybox-static if that failed) or load it with `docker load`", e.Ref)
	}
	return fmt.Sprintf("docker image %s is not on the Docker Engine: build it (`docker build -t %s .`) or load it "+
		"with `docker load`; stix does not pull from registries", e.Ref, e.Ref)
}

// RequireImage returns a *MissingImageError when the engine has no image ref.
func RequireImage(ctx context.Context, cli *dockerapi.Client, ref string) error {
	_, err := cli.ImageInspect(ctx, ref)
	if dockerapi.IsNotFound(err) {
		return &MissingImageError{Ref: ref}
	}
	if err != nil {
		return fmt.Errorf("inspect docker image %s: %w", ref, err)
	}
	return nil
}

// EnsureNodeImage makes sure the engine has the node image ref, built from this machine's current inputs. It
// imports it (`docker import` of a rootfs tar) when the engine lacks it or holds one built from other inputs;
// otherwise it does nothing.
func EnsureNodeImage(ctx context.Context, cli *dockerapi.Client, ref, agentBin string) (NodeImage, error) {
	fsys, err := nodeRootfs(agentBin)
	if err != nil {
		return NodeImage{}, fmt.Errorf("node image %s: %w", ref, err)
	}
	hash := fsys.hash()
	img := NodeImage{Ref: ref, InputsHash: hash}
	insp, err := cli.ImageInspect(ctx, ref)
	switch {
	case err == nil && insp.Comment == commentPrefix+hash:
		img.ID = insp.ID
		return img, nil
	case err != nil && !dockerapi.IsNotFound(err):
		return NodeImage{}, fmt.Errorf("node image %s: inspect: %w", ref, err)
	}
	var buf bytes.Buffer
	if err := fsys.writeTar(&buf); err != nil {
		return NodeImage{}, fmt.Errorf("node image %s: write rootfs: %w", ref, err)
	}
	rc, err := cli.ImageImport(ctx, &buf, ref, commentPrefix+hash, changes)
	if err != nil {
		return NodeImage{}, fmt.Errorf("node image %s: import: %w", ref, err)
	}
	err = readProgress(rc)
	rc.Close()
	if err != nil {
		return NodeImage{}, fmt.Errorf("node image %s: import: %w", ref, err)
	}
	insp, err = cli.ImageInspect(ctx, ref)
	if err != nil {
		return NodeImage{}, fmt.Errorf("node image %s: inspect after import: %w", ref, err)
	}
	img.ID, img.Built = insp.ID, true
	return img, nil
}

// readProgress drains the engine's JSON progress stream and returns the error it reports, if any.
func readProgress(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// rootfs is an image's file tree in memory: paths without a leading slash.
type rootfs struct {
	files map[string]rootfsEntry
}

type rootfsEntry struct {
	mode fs.FileMode // type bits and permissions
	data []byte      // a regular file's content
	link string      // a symlink's target
}

func (r *rootfs) dir(p string, perm fs.FileMode) {
	for d := p; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if _, ok := r.files[d]; !ok {
			r.files[d] = rootfsEntry{mode: fs.ModeDir | 0o755}
		}
	}
	r.files[p] = rootfsEntry{mode: fs.ModeDir | perm}
}

func (r *rootfs) file(p string, perm fs.FileMode, data []byte) {
	r.dir(path.Dir(p), 0o755)
	r.files[p] = rootfsEntry{mode: perm, data: data}
}

func (r *rootfs) symlink(p, target string) {
	r.dir(path.Dir(p), 0o755)
	r.files[p] = rootfsEntry{mode: fs.ModeSymlink | 0o777, link: target}
}

// sorted lists the paths in tar order: parents before their contents.
func (r *rootfs) sorted() []string {
	out := make([]string, 0, len(r.files))
	for p := range r.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// hash is the cache key: every path, mode, content and link target, plus the import settings.
func (r *rootfs) hash() string {
	h := sha256.New()
	for _, p := range r.sorted() {
		e := r.files[p]
		c := sha256.Sum256(e.data)
		fmt.Fprintf(h, "%s\x00%o\x00%x\x00%s\n", p, uint32(e.mode), c, e.link)
	}
	fmt.Fprintf(h, "%q", changes)
	return hex.EncodeToString(h.Sum(nil))
}

// epoch is every entry's modification time, so that two builds from the same inputs give the same tar.
var epoch = time.Unix(0, 0)

func (r *rootfs) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, p := range r.sorted() {
		e := r.files[p]
		hdr := &tar.Header{Name: p, Mode: int64(e.mode.Perm()), ModTime: epoch, Format: tar.FormatPAX}
		if e.mode&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		switch {
		case e.mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, p+"/"
		case e.mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// busyboxPaths are where Debian's busybox-static and other distributions put busybox.
var busyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox"}

// nodeRootfs assembles the node image's tree from this machine: bash and its shared libraries at the paths the
// dynamic loader looks in, busybox with its applets, /tmp, /root and a minimal /etc. agentBin, unless empty, is
// placed where Deploy keeps it on a node (root's ~/.stix/bin/stix-agent-<hash>), so that a new container needs
// no 10 MB copy before its agent starts; a new agent version makes a new image.
func nodeRootfs(agentBin string) (*rootfs, error) {
	r := &rootfs{files: map[string]rootfsEntry{}}
	bash, err := findExecutable("bash", []string{"/bin/bash", "/usr/bin/bash"})
	if err != nil {
		return nil, err
	}
	bb, err := findExecutable("busybox", busyboxPaths)
	if err != nil {
		return nil, fmt.Errorf("%w (on Debian or Ubuntu: apt-get install busybox-static)", err)
	}
	for _, bin := range []struct{ src, dst string }{{bash, "bin/bash"}, {bb, "bin/busybox"}} {
		data, err := os.ReadFile(bin.src)
		if err != nil {
			return nil, err
		}
		r.file(bin.dst, 0o755, data)
		if err := addLibraries(r, bin.src); err != nil {
			return nil, fmt.Errorf("shared libraries of %s: %w", bin.src, err)
		}
	}
	for _, a := range applets {
		r.symlink("bin/"+a, "busybox")
	}
	r.file("bin/nohup", 0o755, []byte(nohupScript))
	if err := addMountTools(r); err != nil {
		return nil, err
	}
	r.symlink("usr/bin/bash", "../../bin/bash")
	r.symlink("usr/bin/env", "../../bin/busybox")
	r.dir("tmp", 0o777|fs.ModeSticky)
	r.dir("root", 0o700)
	r.dir("etc", 0o755)
	r.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"))
	r.file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	r.file("etc/nsswitch.conf", 0o644, []byte("passwd: files\ngroup: files\nhosts: files dns\n"))
	if agentBin != "" {
		dst, err := nodeagent.RemoteBinary(agentBin, "/root/"+strings.TrimPrefix(nodeagent.DefaultBinDir, "~/"))
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(agentBin)
		if err != nil {
			return nil, err
		}
		r.file(strings.TrimPrefix(dst, "/"), 0o755, data)
	}
	return r, nil
}

// mountTools are the host programs a node needs for bucket mounts (MOUNT, MOUNT_CACHED: docs/storage-mounts.md),
// copied into the image when this machine has them, at the same paths; without them a node's mount capability
// probe says what is missing and such a task is refused before provisioning.
var mountTools = []string{"/usr/bin/rclone", "/usr/bin/fusermount3", "/bin/fusermount3"}

// caBundles are the host's CA certificates, which rclone needs to reach an HTTPS store.
var caBundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}

// addMountTools adds rclone and fusermount3 (with fusermount linked to it) and the CA bundle, where present.
func addMountTools(r *rootfs) error {
	for _, p := range mountTools {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		rel := strings.TrimPrefix(p, "/")
		if _, dup := r.files[rel]; dup {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r.file(rel, 0o755, data)
		if err := addLibraries(r, p); err != nil {
			return fmt.Errorf("shared libraries of %s: %w", p, err)
		}
		if path.Base(p) == "fusermount3" {
			r.symlink(path.Join(path.Dir(rel), "fusermount"), "fusermount3")
		}
	}
	for _, p := range caBundles {
		if data, err := os.ReadFile(p); err == nil {
			r.file("etc/ssl/certs/ca-certificates.crt", 0o644, data)
			break
		}
	}
	return nil
}

// findExecutable returns the first of candidates that exists, else the command name on PATH.
func findExecutable(name string, candidates []string) (string, error) {
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c, nil
		}
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		c := filepath.Join(dir, name)
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s not found on this machine (looked in %s and PATH)", name, strings.Join(candidates, ", "))
}

// libDirs are the directories the glibc loader searches without an ld.so.cache, in its order.
var libDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// addLibraries copies into r the ELF interpreter and every shared library bin needs, transitively (what ldd
// prints), each at the path it has on this machine. A static binary needs none.
func addLibraries(r *rootfs, bin string) error {
	queue := []string{bin}
	seen := map[string]bool{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		f, err := elf.Open(p)
		if err != nil {
			return err
		}
		needed, err := f.ImportedLibraries()
		interp := interpreter(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if interp != "" {
			needed = append(needed, interp)
		}
		for _, lib := range needed {
			src := lib
			if !path.IsAbs(lib) {
				if src = findLibrary(lib); src == "" {
					return fmt.Errorf("%s needs %s, which is in none of %s", p, lib, strings.Join(libDirs, ", "))
				}
			}
			if seen[src] {
				continue
			}
			seen[src] = true
			data, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			r.file(strings.TrimPrefix(src, "/"), 0o755, data)
			queue = append(queue, src)
		}
	}
	return nil
}

func interpreter(f *elf.File) string {
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return ""
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

func findLibrary(name string) string {
	for _, d := range libDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/dockerapi"
	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/ignore"
	"github.com/stix-run/stix/internal/transport/treesync"
)

// statFormat is understood by GNU coreutils' and busybox's stat alike: raw mode in hex, size, mtime in
// seconds, name. Both lstat by default, so symlinks are listed as links.
const statFormat = "%f %s %Y %n"

// listScript lists the tree under $1 (itself first, as "."), then each symlink's path and target on two lines
// after a separator. It exits 3 when $1 does not exist and 4 when it is not a directory.
const listScript = `if [ ! -e "$1" ] && [ ! -L "$1" ]; then exit 3; fi
if [ ! -d "$1" ] || [ -L "$1" ]; then exit 4; fi
cd -- "$1" || exit 5
find . -exec stat -c '` + statFormat + `' {} + || exit 5
echo '` + linksSeparator + `'
find . -type l -exec sh -c 'for l; do printf "%s\n" "$l"; readlink "$l"; done' sh {} +`

const linksSeparator = "//stix-links//"

// prepScript creates the directory $1 and removes what stdin lists, one "R path" (a subtree), "F path" (a
// file or symlink) or "D path" (a directory, kept when not empty: it holds ignored files) per line.
const prepScript = `mkdir -p -- "$1" && cd -- "$1" || exit 1
rc=0
while IFS= read -r line; do
  p=${line#??}
  case $line in
    R*) rm -rf -- "$p" || rc=1 ;;
    F*) rm -f -- "$p" || rc=1 ;;
    D*) rmdir -- "$p" 2>/dev/null ;;
  esac
done
exit $rc`

// Sync makes the remote path dst a copy of the local path src (a directory's contents, or one file): it lists
// dst with one exec, removes what must go with another, and sends what changed as one tar stream.
func (t *Transport) Sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	dstPath, err := t.Resolve(ctx, dst)
	if err != nil {
		return transport.SyncStats{}, fmt.Errorf("sync %s to docker container %s: %w", src, short(t.id), err)
	}
	st, err := t.sync(ctx, src, dstPath, opts)
	if err != nil {
		return st, fmt.Errorf("sync %s to %s on docker container %s: %w", src, dstPath, short(t.id), err)
	}
	return st, nil
}

func (t *Transport) sync(ctx context.Context, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	source, err := treesync.ScanSource(src, opts.Ignore)
	if err != nil {
		return transport.SyncStats{}, err
	}
	src = source.Path
	if !source.IsDir() {
		return t.syncFile(ctx, src, dst, source.Info)
	}
	m, srcTree := source.Ignore, source.Tree
	root, dstTree, err := t.list(ctx, dst, m)
	if err != nil {
		return transport.SyncStats{}, err
	}
	// The container's stat gives whole seconds.
	plan := treesync.Diff(srcTree, dstTree, treesync.Options{Delete: opts.Delete, TimePrecision: time.Second})
	var removals strings.Builder
	for _, p := range plan.Replace {
		fmt.Fprintf(&removals, "R %s\n", p)
	}
	for _, e := range plan.Delete {
		kind := "F"
		if e.IsDir() {
			kind = "D"
		}
		fmt.Fprintf(&removals, "%s %s\n", kind, e.Path)
	}
	if root == nil || removals.Len() > 0 {
		if err := t.script(ctx, "prepare the destination", prepScript, []string{dst}, strings.NewReader(removals.String())); err != nil {
			return transport.SyncStats{}, err
		}
	}
	if len(plan.Mkdir) > 0 || len(plan.Copy) > 0 {
		entries := append(append([]treesync.Entry{}, plan.Mkdir...), plan.Copy...)
		if err := t.copyTar(ctx, dst, func(tw *tar.Writer) error { return writeEntries(tw, src, entries) }); err != nil {
			return transport.SyncStats{}, err
		}
	}
	if perm := source.Info.Mode().Perm(); root == nil || root.Mode.Perm() != perm {
		if err := t.script(ctx, "set the destination's mode", `chmod "$1" "$2"`, []string{strconv.FormatUint(uint64(perm), 8), dst}, nil); err != nil {
			return transport.SyncStats{}, err
		}
	}
	return transport.SyncStats{Copied: len(plan.Copy), Skipped: plan.Skipped, Deleted: plan.Deleted, Bytes: plan.Bytes}, nil
}

// list returns the entry of the directory dst itself (nil when it does not exist) and the tree below it,
// parents first, leaving out what m ignores.
func (t *Transport) list(ctx context.Context, dst string, m *ignore.Matcher) (*treesync.Entry, []treesync.Entry, error) {
	var out, errOut strings.Builder
	code, err := t.exec(ctx, []string{"/bin/sh", "-c", listScript, "stix-list", dst}, execOptions{stdout: &out, stderr: &errOut})
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("list the destination: %w", err)
	case code == 3:
		return nil, nil, nil
	case code == 4:
		return nil, nil, fmt.Errorf("the destination exists and is not a directory")
	case code != 0:
		return nil, nil, fmt.Errorf("list the destination: exit status %d: %s", code, strings.TrimSpace(errOut.String()))
	}
	stats, links, _ := strings.Cut(out.String(), linksSeparator+"\n")
	targets := map[string]string{}
	ll := strings.Split(strings.TrimSuffix(links, "\n"), "\n")
	for i := 0; i+1 < len(ll); i += 2 {
		targets[ll[i]] = ll[i+1]
	}
	var root *treesync.Entry
	var tree []treesync.Entry
	ignoredDirs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(stats, "\n"), "\n") {
		info, err := parseStat(line)
		if err != nil {
			return nil, nil, fmt.Errorf("list the destination: %w", err)
		}
		if info.name == "." {
			e, _ := treesync.EntryFromInfo(".", info, "")
			root = &e
			continue
		}
		rel := strings.TrimPrefix(info.name, "./")
		if ignoredDirs[path.Dir(rel)] {
			if info.IsDir() {
				ignoredDirs[rel] = true
			}
			continue
		}
		if m.Ignored(rel, info.IsDir()) {
			ignoredDirs[rel] = info.IsDir()
			continue
		}
		if e, ok := treesync.EntryFromInfo(rel, info, targets[info.name]); ok {
			tree = append(tree, e)
		}
	}
	return root, tree, nil
}

// statInfo is a file's metadata as the container's stat printed it.
type statInfo struct {
	name  string
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

func (s statInfo) Name() string       { return path.Base(s.name) }
func (s statInfo) Size() int64        { return s.size }
func (s statInfo) Mode() fs.FileMode  { return s.mode }
func (s statInfo) ModTime() time.Time { return s.mtime }
func (s statInfo) IsDir() bool        { return s.mode.IsDir() }
func (s statInfo) Sys() any           { return nil }

// parseStat reads one line of statFormat. File names holding a newline cannot be listed this way and fail here.
func parseStat(line string) (statInfo, error) {
	f := strings.SplitN(line, " ", 4)
	if len(f) != 4 {
		return statInfo{}, fmt.Errorf("unexpected stat line %q", line)
	}
	raw, err1 := strconv.ParseUint(f[0], 16, 32)
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	sec, err3 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return statInfo{}, fmt.Errorf("unexpected stat line %q: %w", line, err)
	}
	mode := fs.FileMode(raw & 0o777)
	switch raw & 0o170000 {
	case 0o040000:
		mode |= fs.ModeDir
	case 0o120000:
		mode |= fs.ModeSymlink
	case 0o100000:
	default:
		mode |= fs.ModeIrregular
	}
	return statInfo{name: f[3], mode: mode, size: size, mtime: time.Unix(sec, 0)}, nil
}

// writeEntries writes the directories, files and symlinks of the local tree src as tar entries.
func writeEntries(tw *tar.Writer, src string, entries []treesync.Entry) error {
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Path, Mode: int64(e.Mode.Perm()), ModTime: e.ModTime, Format: tar.FormatPAX}
		switch {
		case e.IsDir():
			hdr.Typeflag, hdr.Name, hdr.ModTime = tar.TypeDir, e.Path+"/", time.Now()
		case e.IsLink():
			hdr.Typeflag, hdr.Linkname, hdr.ModTime = tar.TypeSymlink, e.Link, time.Now()
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := copyFile(tw, filepath.Join(src, filepath.FromSlash(e.Path)), e.Size); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyFile writes exactly size bytes of the file p: a file that changed size since the scan fails the sync
// rather than corrupting the tar stream.
func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err == nil && n != size {
		err = fmt.Errorf("%s changed size during the sync", p)
	}
	return err
}

// copyTar streams the tar that write produces into the container directory dir, which must exist. Files take
// the container user's ownership.
func (t *Transport) copyTar(ctx context.Context, dir string, write func(*tar.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		tw := tar.NewWriter(pw)
		err := write(tw)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	err := t.cli.CopyToContainer(ctx, t.id, dir, bufio.NewReaderSize(pr, 1<<16))
	pr.CloseWithError(errors.New("copy ended"))
	if werr := <-done; werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("copy into %s: %w", dir, err)
	}
	return nil
}

// script runs a POSIX sh script with args and stdin, and turns a non-zero status into an error that says what
// was being done.
func (t *Transport) script(ctx context.Context, what, script string, args []string, stdin io.Reader) error {
	var errOut strings.Builder
	code, err := t.exec(ctx, append([]string{"/bin/sh", "-c", script, "stix"}, args...), execOptions{stdin: stdin, stderr: &errOut})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if code != 0 {
		return fmt.Errorf("%s: exit status %d: %s", what, code, strings.TrimSpace(errOut.String()))
	}
	return nil
}

// Upload writes localPath to remotePath with permissions mode, atomically: the file goes in under a temporary
// name beside its destination and is renamed over it.
func (t *Transport) Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	dst, err := t.Resolve(ctx, remotePath)
	if err != nil {
		return fmt.Errorf("upload %s to docker container %s: %w", localPath, short(t.id), err)
	}
	fi, err := os.Stat(localPath)
	if err != nil {
		return fmt.Errorf("upload %s: %w", localPath, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("upload %s: not a regular file", localPath)
	}
	if err := t.putFile(ctx, localPath, dst, fi.Size(), mode.Perm(), time.Now()); err != nil {
		return fmt.Errorf("upload %s to %s on docker container %s: %w", localPath, dst, short(t.id), err)
	}
	return nil
}

// putFile copies one local file to dst in the container through a temporary name, creating dst's parent
// directories when the first copy finds them missing.
func (t *Transport) putFile(ctx context.Context, local, dst string, size int64, perm fs.FileMode, mtime time.Time) error {
	marker, err := newMarker()
	if err != nil {
		return err
	}
	dir, tmp := path.Dir(dst), ".stix-upload-"+marker
	write := func(tw *tar.Writer) error {
		hdr := &tar.Header{Name: tmp, Mode: int64(perm), Size: size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		return copyFile(tw, local, size)
	}
	err = t.copyTar(ctx, dir, write)
	if dockerapi.IsNotFound(err) {
		if err = t.script(ctx, "create the parent directory", `mkdir -p -- "$1"`, []string{dir}, nil); err == nil {
			err = t.copyTar(ctx, dir, write)
		}
	}
	if err != nil {
		return err
	}
	return t.script(ctx, "rename into place", `mv -f -- "$1" "$2" || { rm -f -- "$1"; exit 1; }`, []string{path.Join(dir, tmp), dst}, nil)
}

// syncFile copies one file to dst unless dst already has the same size, modification time and mode.
func (t *Transport) syncFile(ctx context.Context, src, dst string, fi fs.FileInfo) (transport.SyncStats, error) {
	s, _ := treesync.EntryFromInfo(path.Base(dst), fi, "")
	var out strings.Builder
	code, err := t.exec(ctx, []string{"/bin/sh", "-c", `stat -c '` + statFormat + `' -- "$1" 2>/dev/null || exit 3`, "stix-stat", dst},
		execOptions{stdout: &out})
	if err != nil {
		return transport.SyncStats{}, fmt.Errorf("stat the destination: %w", err)
	}
	if code == 0 {
		info, err := parseStat(strings.TrimSuffix(out.String(), "\n"))
		if err != nil {
			return transport.SyncStats{}, err
		}
		if info.IsDir() {
			return transport.SyncStats{}, fmt.Errorf("%s is a directory; give the file's own path as destination", dst)
		}
		if d, ok := treesync.EntryFromInfo(s.Path, info, ""); ok && treesync.Unchanged(s, d, time.Second) {
			return transport.SyncStats{Skipped: 1}, nil
		}
	}
	if err := t.putFile(ctx, src, dst, s.Size, s.Mode.Perm(), s.ModTime); err != nil {
		return transport.SyncStats{}, err
	}
	return transport.SyncStats{Copied: 1, Bytes: s.Size}, nil
}

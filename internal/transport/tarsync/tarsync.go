// Package tarsync syncs a local tree to a node that stix reaches only by running commands on it: a Docker
// container (exec), or an SSH host whose sshd has no SFTP subsystem. The remote tree is listed with find and
// stat (GNU coreutils or busybox), removals go to one sh script, and what changed travels as one tar stream.
// Transports implement Node and wrap the errors with where they were going.
package tarsync

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/stix-run/stix/internal/transport"
	"github.com/stix-run/stix/internal/transport/ignore"
	"github.com/stix-run/stix/internal/transport/treesync"
)

// Node is a node reached by running commands.
type Node interface {
	// Script runs the POSIX sh script with positional parameters args ($1, $2, ...), stdin (nil: none), and
	// stdout and stderr (nil: discarded), and returns its exit status. err is non-nil only when the script
	// could not be run or waited for.
	Script(ctx context.Context, script string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
	// Untar unpacks the tar stream that stream writes into the directory dir, creating dir and its parents
	// when missing, with the modes and modification times of the stream and the node user's ownership. It may
	// call stream more than once (a first try that found no dir); Pipe turns stream into a reader.
	Untar(ctx context.Context, dir string, stream func(io.Writer) error) error
}

// Pipe runs stream in a goroutine writing into a pipe that consume reads, and returns consume's error, else
// stream's. A consume that returns early ends stream with an error.
func Pipe(stream func(io.Writer) error, consume func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := stream(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	err := consume(pr)
	pr.CloseWithError(errors.New("copy ended"))
	if werr := <-done; werr != nil && err == nil {
		err = werr
	}
	return err
}

// UntarScript unpacks a tar stream read from stdin into the directory $1, creating it, for a Node whose only
// way in is a shell: permissions as in the stream (-p), files owned by the login user (-o), GNU tar or busybox.
const UntarScript = `mkdir -p -- "$1" && exec tar -x -o -p -f - -C "$1"`

// statFormat is understood by GNU coreutils' and busybox's stat alike: raw mode in hex, size, mtime in
// seconds, name. Both lstat by default, so symlinks are listed as links.
const statFormat = "%f %s %Y %n"

// timePrecision is what statFormat keeps of a modification time: whole seconds.
const timePrecision = time.Second

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

// Sync makes the absolute remote path dst a copy of the local path src (a directory's contents, or one file):
// it lists dst with one script, removes what must go with another, and sends what changed as one tar stream.
func Sync(ctx context.Context, n Node, src, dst string, opts transport.SyncOptions) (transport.SyncStats, error) {
	source, err := treesync.ScanSource(src, opts.Ignore)
	if err != nil {
		return transport.SyncStats{}, err
	}
	src = source.Path
	if !source.IsDir() {
		return syncFile(ctx, n, src, dst, source.Info)
	}
	m, srcTree := source.Ignore, source.Tree
	root, dstTree, err := list(ctx, n, dst, m)
	if err != nil {
		return transport.SyncStats{}, err
	}
	plan := treesync.Diff(srcTree, dstTree, treesync.Options{Delete: opts.Delete, TimePrecision: timePrecision})
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
		if err := script(ctx, n, "prepare the destination", prepScript, []string{dst}, strings.NewReader(removals.String())); err != nil {
			return transport.SyncStats{}, err
		}
	}
	if len(plan.Mkdir) > 0 || len(plan.Copy) > 0 {
		entries := append(append([]treesync.Entry{}, plan.Mkdir...), plan.Copy...)
		if err := untar(ctx, n, dst, func(tw *tar.Writer) error { return writeEntries(tw, src, entries) }); err != nil {
			return transport.SyncStats{}, err
		}
	}
	if perm := source.Info.Mode().Perm(); root == nil || root.Mode.Perm() != perm {
		if err := script(ctx, n, "set the destination's mode", `chmod "$1" "$2"`, []string{strconv.FormatUint(uint64(perm), 8), dst}, nil); err != nil {
			return transport.SyncStats{}, err
		}
	}
	return transport.SyncStats{Copied: len(plan.Copy), Skipped: plan.Skipped, Deleted: plan.Deleted, Bytes: plan.Bytes}, nil
}

// list returns the entry of the directory dst itself (nil when it does not exist) and the tree below it,
// parents first, leaving out what m ignores.
func list(ctx context.Context, n Node, dst string, m *ignore.Matcher) (*treesync.Entry, []treesync.Entry, error) {
	var out, errOut strings.Builder
	code, err := n.Script(ctx, listScript, []string{dst}, nil, &out, &errOut)
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

// statInfo is a file's metadata as the node's stat printed it.
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

// untar streams the tar that write produces into the node directory dir.
func untar(ctx context.Context, n Node, dir string, write func(*tar.Writer) error) error {
	err := n.Untar(ctx, dir, func(w io.Writer) error {
		// Buffered, so that a tree of small files moves in large writes, not a packet per tar header.
		bw := bufio.NewWriterSize(w, 1<<16)
		tw := tar.NewWriter(bw)
		if err := write(tw); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("copy into %s: %w", dir, err)
	}
	return nil
}

// script runs a POSIX sh script with args and stdin, and turns a non-zero status into an error that says what
// was being done.
func script(ctx context.Context, n Node, what, script string, args []string, stdin io.Reader) error {
	var errOut strings.Builder
	code, err := n.Script(ctx, script, args, stdin, nil, &errOut)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if code != 0 {
		return fmt.Errorf("%s: exit status %d: %s", what, code, strings.TrimSpace(errOut.String()))
	}
	return nil
}

// Upload writes the local file localPath to the absolute remote path dst with permissions perm, atomically:
// the file goes in under a temporary name beside its destination and is renamed over it.
func Upload(ctx context.Context, n Node, localPath, dst string, perm fs.FileMode) error {
	fi, err := os.Stat(localPath)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", localPath)
	}
	return putFile(ctx, n, localPath, dst, fi.Size(), perm.Perm(), time.Now())
}

// putFile copies one local file to dst through a temporary name in dst's directory.
func putFile(ctx context.Context, n Node, local, dst string, size int64, perm fs.FileMode, mtime time.Time) error {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	dir, tmp := path.Dir(dst), ".stix-upload-"+hex.EncodeToString(b[:])
	write := func(tw *tar.Writer) error {
		hdr := &tar.Header{Name: tmp, Mode: int64(perm), Size: size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		return copyFile(tw, local, size)
	}
	if err := untar(ctx, n, dir, write); err != nil {
		return err
	}
	return script(ctx, n, "rename into place", `mv -f -- "$1" "$2" || { rm -f -- "$1"; exit 1; }`, []string{path.Join(dir, tmp), dst}, nil)
}

// syncFile copies one file to dst unless dst already has the same size, modification time and mode.
func syncFile(ctx context.Context, n Node, src, dst string, fi fs.FileInfo) (transport.SyncStats, error) {
	s, _ := treesync.EntryFromInfo(path.Base(dst), fi, "")
	var out strings.Builder
	code, err := n.Script(ctx, `stat -c '`+statFormat+`' -- "$1" 2>/dev/null || exit 3`, []string{dst}, nil, &out, nil)
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
		if d, ok := treesync.EntryFromInfo(s.Path, info, ""); ok && treesync.Unchanged(s, d, timePrecision) {
			return transport.SyncStats{Skipped: 1}, nil
		}
	}
	if err := putFile(ctx, n, src, dst, s.Size, s.Mode.Perm(), s.ModTime); err != nil {
		return transport.SyncStats{}, err
	}
	return transport.SyncStats{Copied: 1, Bytes: s.Size}, nil
}

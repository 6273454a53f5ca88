package proc

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Confine hides directories from a job: the job runs in a private mount namespace in which each Hide directory
// is an empty read-only tmpfs, except the Keep directories under it, which are bind-mounted back at their own
// paths. The job keeps its uid and every path it legitimately uses (its $HOME, its workdir, /tmp); it loses
// sight of the agent's files and of other clusters. Local infra uses it (docs/providers.md): its jobs run as the
// user who runs stix, on the machine that holds every cluster's secrets and the state database.
type Confine struct {
	Exe  string   // the agent binary, whose "confine" command (ConfineMain) sets the namespace up
	Hide []string // absolute directories to hide
	Keep []string // absolute directories under a Hide directory that stay visible (the job's home)
}

// ConfineCommand is the agent's subcommand that runs ConfineMain.
const ConfineCommand = "confine"

// confinedWrapper is wrapper for a confined job. The agent's procs directory is hidden in the namespace, so
// the script ($1) and the rc file ($2) are reached through an open descriptor of that directory
// (/proc/self/fd/N/...); the job gets the script on a descriptor of its own and never the directory's.
const confinedWrapper = `trap : TERM INT HUP
d=${1#/proc/self/fd/}; d=${d%%/*}
exec {s}<"$1" || exit 126
bash "/dev/fd/$s" {d}<&-
rc=$?
printf '%d\n' "$rc" >"$2.tmp" && mv -f "$2.tmp" "$2"
exit "$rc"`

// confineReportTimeout bounds how long Start waits for the confine step to report (it reports before it runs
// anything of the job).
const confineReportTimeout = 10 * time.Second

// startConfined starts the job through the confine step. It returns unconfined != "" (the reason) when the
// namespace could not be made and the job was started without it, as cmd would have started it.
func startConfined(s Spec, token string, logf *os.File) (cmd *exec.Cmd, unconfined string, err error) {
	c := s.Confine
	args := []string{ConfineCommand, "--through", filepath.Dir(s.ScriptPath)}
	for _, h := range c.Hide {
		args = append(args, "--hide", h)
	}
	for _, k := range c.Keep {
		args = append(args, "--keep", k)
	}
	args = append(args, "--", "bash", "--noprofile", "--norc", "-c", confinedWrapper, "stix-job", s.ScriptPath, s.RCPath)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	cmd = exec.Command(c.Exe, args...)
	cmd.Dir = s.Dir
	cmd.Env = withToken(s.Env, token)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w} // fd 3: the confine step's report
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: syscall.CLONE_NEWNS}
	if os.Geteuid() != 0 {
		// An unprivileged user namespace that maps the user to itself: the job keeps its uid and gid.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		// The user is not root in its namespace, so exec would drop the capability to mount: keep that one
		// across the exec of the confine step, which clears it before it runs the job.
		cmd.SysProcAttr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN}
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		// User namespaces disabled, or no right to make a mount namespace: run the job as before.
		return startPlain(s, token, logf), "cannot make a mount namespace: " + err.Error(), nil
	}
	_ = r.SetReadDeadline(time.Now().Add(confineReportTimeout))
	report, rerr := io.ReadAll(r) // EOF when the confine step execs the wrapper
	switch msg := strings.TrimSpace(string(report)); {
	case msg != "":
		unconfined = msg // the confine step runs the job anyway, unconfined
	case rerr != nil:
		unconfined = "the confine step did not report: " + rerr.Error()
	}
	return cmd, unconfined, nil
}

// startPlain returns the command of an unconfined job, not yet started.
func startPlain(s Spec, token string, logf *os.File) *exec.Cmd {
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", wrapper, "stix-job", s.ScriptPath, s.RCPath)
	cmd.Dir = s.Dir
	cmd.Env = withToken(s.Env, token)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// ConfineMain is `stix-agent confine --through DIR [--hide DIR]... [--keep DIR]... -- COMMAND...`, run by Start
// as the first process of a new mount namespace. It hides the --hide directories (but the --keep ones under
// them), rewrites the arguments under --through to /proc/self/fd/N paths of an open descriptor of it, reports
// on fd 3 (empty: confined; a line: why not, and the command then runs unconfined) and execs COMMAND.
func ConfineMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(ConfineCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var hide, keep stringList
	through := fs.String("through", "", "a hidden directory the command's arguments name; reached through a descriptor")
	fs.Var(&hide, "hide", "a directory to hide (repeatable)")
	fs.Var(&keep, "keep", "a directory under a hidden one to keep visible (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "stix-agent confine: no command given after --")
		return 2
	}
	// Capabilities belong to threads: the one that execs the command is the one that drops them.
	runtime.LockOSThread()
	report := os.NewFile(3, "report")
	unix.CloseOnExec(3)
	if *through != "" {
		fd, err := unix.Open(*through, unix.O_PATH|unix.O_DIRECTORY, 0) // no O_CLOEXEC: the command uses it
		if err != nil {
			fmt.Fprintf(report, "open %s: %v\n", *through, err)
			return runCommand(argv, stderr)
		}
		prefix := filepath.Clean(*through) + "/"
		for i, a := range argv {
			if strings.HasPrefix(a, prefix) {
				argv[i] = "/proc/self/fd/" + strconv.Itoa(fd) + "/" + strings.TrimPrefix(a, prefix)
			}
		}
	}
	if err := hideDirs(hide, keep); err != nil {
		fmt.Fprintln(report, err)
	}
	return runCommand(argv, stderr)
}

// runCommand execs argv without the capability the confine step was given (startConfined), so that the job
// cannot undo the confinement; it returns only when that fails.
func runCommand(argv []string, stderr io.Writer) int {
	path, err := exec.LookPath(argv[0])
	if err == nil {
		err = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	}
	if err == nil {
		err = syscall.Exec(path, argv, os.Environ())
	}
	fmt.Fprintf(stderr, "stix-agent confine: run %s: %v\n", argv[0], err)
	return 127
}

// hideDirs makes the mount namespace private and hides each of hide but the keep directories under it. The
// working directory is entered again afterwards, so that it is the visible one (a relative "..", from the
// directory entered before, would otherwise climb the hidden tree).
func hideDirs(hide, keep []string) error {
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("confine: %w", err)
	}
	// Nothing done in here may reach the parent namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("confine: make / private: %w", err)
	}
	for _, h := range hide {
		h = filepath.Clean(h)
		if fi, err := os.Stat(h); err != nil || !fi.IsDir() {
			continue
		}
		if err := hideDir(h, keep); err != nil {
			return fmt.Errorf("confine: hide %s: %w", h, err)
		}
	}
	if err := os.Chdir(wd); err != nil {
		return fmt.Errorf("confine: working directory %s is hidden from jobs: %w", wd, err)
	}
	return nil
}

func hideDir(h string, keep []string) (err error) {
	type kept struct {
		rel string
		fd  int
	}
	var ks []kept
	defer func() {
		for _, k := range ks {
			unix.Close(k.fd)
		}
	}()
	for _, k := range keep {
		k = filepath.Clean(k)
		rel, err := filepath.Rel(h, k)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
			continue // not under h
		}
		fd, err := unix.Open(k, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", k, err)
		}
		ks = append(ks, kept{rel, fd})
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("stix-hidden", h, "tmpfs", flags, "mode=0755,size=64k"); err != nil {
		return err
	}
	defer func() {
		if err != nil { // a half-made view would hide the job's own home: show everything again
			_ = unix.Unmount(h, unix.MNT_DETACH)
		}
	}()
	for _, k := range ks {
		if err := os.MkdirAll(filepath.Join(h, k.rel), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("", h, "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, ""); err != nil {
		return fmt.Errorf("make read-only: %w", err)
	}
	for _, k := range ks {
		src := "/proc/self/fd/" + strconv.Itoa(k.fd)
		if err := unix.Mount(src, filepath.Join(h, k.rel), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("keep %s: %w", filepath.Join(h, k.rel), err)
		}
	}
	return nil
}

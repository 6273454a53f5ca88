// Package agent is stix's node agent: the daemon on every cluster node. On the head it owns the job table
// (SQLite), schedules jobs FIFO with CPU and accelerator accounting, gang-launches them on the worker agents,
// keeps their logs and runs autostop; on every node it starts, watches and signals job processes. Its HTTP API is
// described in docs/agent.md; Client is its Go client.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"github.com/stix-run/stix/internal/atomicfile"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/agent/agenttls"
	"github.com/stix-run/stix/internal/agent/envknob"
	"github.com/stix-run/stix/internal/agent/fingerprint"
	"github.com/stix-run/stix/internal/agent/proc"
)

// agent is one running agent process.
type agent struct {
	dir       string
	secret    []byte
	ctx       context.Context // cancelled at shutdown
	log       *slog.Logger
	resources fingerprint.Resources
	startedAt time.Time
	procs     *procManager
	mounts    *mountManager
	idleUnit  time.Duration
	killGrace time.Duration
	clock     clock

	// clientTLS is how this agent (the head) verifies the agents it calls: DIR/ca.crt; nil for plain HTTP.
	clientTLS *tls.Config
	// agentTimeout is the timeout of the head's calls to its workers; 0: the knob's (NewClient).
	agentTimeout time.Duration

	headMu sync.Mutex
	head   *head

	// cancel ends Serve; exit, set by shutdown, says what Serve then does to the node (endNode).
	cancel       context.CancelFunc
	exitMu       sync.Mutex
	exit         NodeExit
	endContainer func() error
	powerOff     func() error
	exitBackoff  time.Duration // the first wait between tries of an exit request (sendExitRequests); 0: 1 s
}

// Main runs the stix-agent command line and returns its exit code.
func Main(args []string) int {
	return mainWith(args, os.Stdout, os.Stderr)
}

const usage = `usage: stix-agent <command>

commands:
  serve --dir DIR --listen HOST:PORT   run the node agent (see docs/agent.md)
  killall --dir DIR                    stop the agent of DIR and every job process it recorded
  confine --hide DIR --keep DIR -- CMD run CMD with DIR hidden but the kept directories (the agent runs it)
  dial HOST:PORT                       copy stdin to a TCP connection and the connection to stdout (a tunnel's far end)
  version                              print the version
  knobs                                list the environment variables the agent reads
`

func mainWith(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[1] {
	case "serve":
		return serveCommand(args[2:], stderr)
	case "killall":
		return killallCommand(args[2:], stderr)
	case proc.ConfineCommand:
		return proc.ConfineMain(args[2:], stderr)
	case "dial":
		return dialCommand(args[2:], os.Stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "stix-agent", Version)
		return 0
	case "knobs":
		for _, k := range envknob.All() {
			fmt.Fprintf(stdout, "%s\t%s\n", k.Name, k.Doc)
		}
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "stix-agent: unknown command %q\n%s", args[1], usage)
	return 2
}

// killallCommand is KillAll for remote nodes: the provider runs it over the node's transport on stop and down.
func killallCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("killall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the agent's directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "stix-agent killall: --dir is required")
		return 2
	}
	if err := KillAll(*dir); err != nil {
		fmt.Fprintln(stderr, "stix-agent killall:", err)
		return 1
	}
	return 0
}

// Options configures serve.
type Options struct {
	Dir string
	// Home is $HOME of the jobs and the base of relative working directories (~/sky_workdir); Dir when empty,
	// as on local nodes, whose directory is their home. Remote nodes pass the login user's home.
	Home      string
	Listen    string
	IdleUnit  time.Duration // length of an autostop "minute"
	KillGrace time.Duration // SIGTERM → SIGKILL delay when killing a job's processes
	// AgentTimeout is the timeout of the head's calls to its workers (deadline.go); 0: STIX_AGENT_TIMEOUT.
	AgentTimeout time.Duration
	// ConfineHide are directories hidden from every job (but its Home under them): local nodes hide the stix
	// home, so that jobs cannot read the agents' secrets, job tables and the state database (proc.Confine).
	ConfineHide []string
	// EndContainer ends the container the agent runs in, for autostop with ExitContainer; nil signals PID 1.
	EndContainer func() error
	// PowerOff powers the machine off, for autostop with ExitPoweroff; nil runs `shutdown -h now`.
	PowerOff func() error
	// TestClock, when set, is the file that drives the autostop clock (STIX_TEST_CLOCK, newFileClock).
	TestClock string
}

func serveCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Dir, "dir", "", "the node's home directory (holds secret, procs/, logs/, jobs.db)")
	fs.StringVar(&o.Home, "home", "", "the jobs' $HOME and the base of relative working directories (default: --dir)")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:0", "address to listen on; port 0 picks a free one")
	fs.DurationVar(&o.IdleUnit, "idle-unit", 0, "length of one autostop idle minute (default $STIX_IDLE_UNIT or 1m)")
	fs.DurationVar(&o.KillGrace, "kill-grace", 3*time.Second, "time between SIGTERM and SIGKILL when killing a job")
	fs.Func("confine-hide", "a directory hidden from jobs, but their --home (repeatable; Linux mount namespaces)", func(v string) error {
		if !filepath.IsAbs(v) {
			return fmt.Errorf("%q is not an absolute path", v)
		}
		o.ConfineHide = append(o.ConfineHide, filepath.Clean(v))
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Dir == "" {
		fmt.Fprintln(stderr, "stix-agent serve: --dir is required")
		return 2
	}
	if o.IdleUnit <= 0 {
		d, err := envknob.IdleUnit.Get()
		if err != nil {
			fmt.Fprintln(stderr, "stix-agent:", err)
			return 2
		}
		o.IdleUnit = d
	}
	o.TestClock = envknob.TestClock.Get()
	// Read once, here, so that a bad value stops the agent as it starts instead of failing each call it makes.
	var err error
	if o.AgentTimeout, err = envknob.AgentTimeout.Get(); err != nil {
		fmt.Fprintln(stderr, "stix-agent:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// SIGTERM and SIGINT stop the agent, never the jobs: a restarted agent adopts them.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Serve(ctx, o, log); err != nil {
		log.Error("agent stopped", "err", err)
		return 1
	}
	return 0
}

// Serve runs an agent until ctx ends.
func Serve(ctx context.Context, o Options, log *slog.Logger) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("node directory %s does not exist; the provisioner creates it with the secret inside", dir)
	}
	secret, err := readSecret(filepath.Join(dir, "secret"))
	if err != nil {
		return err
	}
	unlock, err := serveAlone(ctx, dir, log)
	if err != nil {
		return err
	}
	defer unlock()
	// A starting agent means the node is back: the mark of an earlier autostop no longer holds.
	if err := os.Remove(filepath.Join(dir, AutostopMarkFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the autostop mark: %w", err)
	}
	res, err := fingerprint.Detect(ctx)
	if err != nil {
		log.Warn("node fingerprint incomplete", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &agent{dir: dir, secret: secret, ctx: ctx, log: log, resources: res, startedAt: time.Now().UTC(),
		idleUnit: o.IdleUnit, killGrace: o.KillGrace, agentTimeout: o.AgentTimeout, clock: realClock{},
		cancel: cancel, endContainer: o.EndContainer, powerOff: o.PowerOff}
	if o.TestClock != "" {
		a.clock = newFileClock(ctx, o.TestClock, a.startedAt)
	}
	if a.killGrace <= 0 {
		a.killGrace = 3 * time.Second
	}
	if a.idleUnit <= 0 {
		a.idleUnit = time.Minute
	}
	home := o.Home
	if home == "" {
		home = dir
	}
	if a.procs, err = newProcManager(ctx, dir, home, log); err != nil {
		return err
	}
	if a.mounts, err = newMountManager(dir, home, secret, log); err != nil {
		return err
	}
	if len(o.ConfineHide) > 0 {
		keep, err := filepath.Abs(home)
		if err != nil {
			return err
		}
		a.procs.confine = &proc.Confine{Exe: "/proc/self/exe", Hide: o.ConfineHide, Keep: []string{keep}}
	}
	// Before the head resumes: it calls its workers with this TLS configuration.
	if a.clientTLS, err = agenttls.LoadClient(dir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs.db")); err == nil {
		if _, err := a.ensureHead(); err != nil {
			return err
		}
	}
	defer func() {
		cancel() // the supervisors stop with the context; closeHead waits for them
		a.closeHead()
	}()

	ln, err := listen(dir, o.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx }, // streams end at shutdown
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	addr := ln.Addr().String()
	pidFile, addrFile := filepath.Join(dir, PIDFile), filepath.Join(dir, "agent.addr")
	// The provisioner waits for agent.addr, so the pid file is written first.
	if err := atomicfile.Write(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		srv.Close()
		return fmt.Errorf("write %s: %w", pidFile, err)
	}
	if err := atomicfile.Write(addrFile, []byte(addr+"\n"), 0o644); err != nil {
		srv.Close()
		return fmt.Errorf("write %s: %w", addrFile, err)
	}
	log.Info("agent listening", "addr", addr, "dir", dir, "version", Version, "head", a.currentHead() != nil)

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		scancel()
		if err != nil {
			srv.Close()
		}
		err = nil
	}
	cancel()
	removeIfOurs(addrFile, addr)
	removeIfOurs(pidFile, strconv.Itoa(os.Getpid()))
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if exit := a.exitAction(); exit != "" {
		// The jobs are gone (shutdown killed them): what they wrote to MOUNT_CACHED buckets is uploaded before
		// the node goes, and the mounts end with it. After the answer to POST /v1/shutdown, which a flush of
		// up to STIX_MOUNT_FLUSH_TIMEOUT must not hold up.
		if err := mountErrors(a.mounts.unmount(context.Background())); err != nil {
			log.Error("autostop: flush and unmount buckets", "err", err)
		}
		log.Info("agent stopped for autostop", "exit", exit)
		return errors.Join(err, a.endNode(exit))
	}
	log.Info("agent stopped; job processes keep running")
	return err
}

// readSecret reads the cluster secret, which must not be readable by others.
func readSecret(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read the agent secret: %w (the provisioner writes it, mode 0600)", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("agent secret %s has mode %v: make it private with chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the agent secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("agent secret %s is empty", path)
	}
	return []byte(s), nil
}

// removeIfOurs removes a pid/addr file unless a newer agent has replaced it.
func removeIfOurs(path, content string) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == content {
		os.Remove(path)
	}
}

func (a *agent) currentHead() *head {
	a.headMu.Lock()
	defer a.headMu.Unlock()
	return a.head
}

// ensureHead makes this agent a head (opening DIR/jobs.db and adopting its running jobs) if it is not one yet.
func (a *agent) ensureHead() (*head, error) {
	a.headMu.Lock()
	defer a.headMu.Unlock()
	if a.head == nil {
		h, err := newHead(a)
		if err != nil {
			return nil, fmt.Errorf("open the job table: %w", err)
		}
		a.head = h
	}
	return a.head, nil
}

func (a *agent) closeHead() {
	if h := a.currentHead(); h != nil {
		if err := h.close(); err != nil {
			a.log.Warn("close job table", "err", err)
		}
	}
}

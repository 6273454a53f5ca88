package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stix-run/stix/internal/atomicfile"
	"github.com/stix-run/stix/internal/lazyregexp"
	"github.com/stix-run/stix/internal/transport"

	"github.com/stix-run/stix/internal/agent/proc"
	"github.com/stix-run/stix/internal/agent/tail"
)

// procManager runs this node's job processes (every node, the head included, has one). It is the worker half of
// the gang launch: the head drives it in-process for its own node and over HTTP for the others. Each process
// leaves DIR/procs/ID.{json,sh,log,rc}; the json record lets a restarted agent find the process again.
type procManager struct {
	dir   string // the node's DIR
	home  string // $HOME of its jobs, base of relative working directories (DIR on local nodes)
	pdir  string // DIR/procs
	log   *slog.Logger
	ctx   context.Context // agent lifetime: stops the waits on adopted processes
	mu    sync.Mutex
	procs map[string]*procEntry
	// confine, when set, hides directories from every job (Options.ConfineHide); unconfinedOnce logs once
	// that a job had to run without it.
	confine        *proc.Confine
	unconfinedOnce sync.Once
}

type procEntry struct {
	rec    procRecord
	done   chan struct{} // closed when the process has ended; status is final then
	status ProcStatus
}

// procRecord is DIR/procs/ID.json.
type procRecord struct {
	ID         string    `json:"id"`
	PID        int       `json:"pid"`
	StartTicks uint64    `json:"start_ticks"`
	Token      string    `json:"token,omitempty"` // proc.TokenVar of its processes; empty in older agents' records
	StartedAt  time.Time `json:"started_at"`
}

// job is everything the process started, daemons included.
func (r procRecord) job() proc.Job {
	return proc.Job{PID: r.PID, StartTicks: r.StartTicks, Token: r.Token}
}

// stoppedExt marks a process that KillAll stopped (DIR/procs/ID.stopped).
const stoppedExt = ".stopped"

// procIDPattern is the alphabet of process IDs; validProcID adds the length limit (a {0,127} repeat would compile
// to 127 copies of its class at every stix command's start).
var procIDPattern = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func validProcID(id string) bool { return len(id) <= 128 && procIDPattern.MatchString(id) }

func newProcManager(ctx context.Context, dir, home string, log *slog.Logger) (*procManager, error) {
	m := &procManager{dir: dir, home: home, pdir: filepath.Join(dir, "procs"), log: log, ctx: ctx, procs: map[string]*procEntry{}}
	if err := os.MkdirAll(m.pdir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", m.pdir, err)
	}
	return m, m.reload()
}

func (m *procManager) path(id, ext string) string { return filepath.Join(m.pdir, id+ext) }

// reload finds the processes a previous agent started: finished ones by their rc file, live ones are adopted
// (waited for with a pidfd), and ones that vanished without an rc file are lost.
func (m *procManager) reload() error {
	files, err := filepath.Glob(filepath.Join(m.pdir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		var rec procRecord
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err != nil || !validProcID(rec.ID) {
			m.log.Warn("ignoring unreadable process record", "file", f, "err", err)
			continue
		}
		e := &procEntry{rec: rec, done: make(chan struct{}), status: rec.status(ProcRunning, 0)}
		m.procs[rec.ID] = e
		_, stopErr := os.Stat(m.path(rec.ID, stoppedExt))
		switch {
		case stopErr == nil:
			m.log.Info("process was stopped with the node", "id", rec.ID)
			m.finish(e, rec.status(ProcLost, 0))
		case m.finishFromRC(e):
		case proc.Alive(rec.PID, rec.StartTicks):
			m.log.Info("adopted running process", "id", rec.ID, "pid", rec.PID)
			go m.adopt(e)
		default:
			m.log.Warn("process vanished without an exit code", "id", rec.ID, "pid", rec.PID)
			m.finish(e, rec.status(ProcLost, 0))
		}
	}
	return nil
}

func (r procRecord) status(s ProcState, code int) ProcStatus {
	return ProcStatus{ID: r.ID, PID: r.PID, StartedAt: r.StartedAt, State: s, ExitCode: code}
}

// finishFromRC ends e with the code in its rc file, if there is one.
func (m *procManager) finishFromRC(e *procEntry) bool {
	code, ok := proc.ReadRC(m.path(e.rec.ID, ".rc"))
	if ok {
		m.finish(e, e.rec.status(ProcExited, code))
	}
	return ok
}

func (m *procManager) finish(e *procEntry, st ProcStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-e.done:
		return
	default:
	}
	e.status = st
	close(e.done)
}

// adopt waits for a process that is not our child. When the agent stops first, the process stays running.
func (m *procManager) adopt(e *procEntry) {
	if err := proc.WaitExit(m.ctx, e.rec.PID, e.rec.StartTicks); err != nil {
		return
	}
	if !m.finishFromRC(e) {
		m.finish(e, e.rec.status(ProcLost, 0))
	}
}

// StartProc starts a process, or returns the existing one with the same id (so a retried request does not
// start a job twice).
func (m *procManager) StartProc(_ context.Context, spec ProcSpec) (ProcStatus, error) {
	if !validProcID(spec.ID) {
		return ProcStatus{}, fmt.Errorf("%w: process id %q: use letters, digits, '.', '_' and '-'", ErrInvalid, spec.ID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.procs[spec.ID]; ok {
		return e.status, nil
	}
	workdir, err := m.workdir(spec.Workdir)
	if err != nil {
		return ProcStatus{}, err
	}
	p, err := proc.Start(proc.Spec{
		Script:     jobScript(spec.Script, workdir),
		Env:        m.environ(spec.Env),
		Dir:        workdir,
		ScriptPath: m.path(spec.ID, ".sh"),
		LogPath:    m.path(spec.ID, ".log"),
		RCPath:     m.path(spec.ID, ".rc"),
		Confine:    m.confine,
	})
	if err != nil {
		return ProcStatus{}, fmt.Errorf("start %s: %w", spec.ID, err)
	}
	if p.Unconfined != "" {
		m.unconfinedOnce.Do(func() {
			m.log.Warn("jobs run unconfined: they can read every file of this user, the agents' secrets included", "reason", p.Unconfined)
		})
	}
	rec := procRecord{ID: spec.ID, PID: p.PID, StartTicks: p.StartTicks, Token: p.Token, StartedAt: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	if err := atomicfile.Write(m.path(spec.ID, ".json"), b, 0o600); err != nil {
		// Without the record a restarted agent could not find the process: do not let it run untracked.
		_ = p.Kill(killLimit)
		p.Wait()
		return ProcStatus{}, fmt.Errorf("record process %s: %w", spec.ID, err)
	}
	e := &procEntry{rec: rec, done: make(chan struct{}), status: rec.status(ProcRunning, 0)}
	m.procs[spec.ID] = e
	go func() {
		// Our own child: reap it. The wrapper's rc file is the truth; the wait status covers a wrapper that was
		// killed itself (SIGKILL of the whole group).
		code := p.Wait()
		if !m.finishFromRC(e) {
			m.finish(e, rec.status(ProcExited, code))
		}
	}()
	return e.status, nil
}

// jobScript wraps a job's bash source: the node's ~/.bashrc first (SkyPilot's jobs see what setup appended to
// it), then the job in the working directory the process was started in.
func jobScript(src, workdir string) string {
	return "[ -f \"$HOME/.bashrc\" ] && . \"$HOME/.bashrc\"\ncd " + transport.Quote(workdir) + " || exit 1\n" + src + "\n"
}

// workdir resolves a job's working directory on this node: relative to the jobs' home; by default
// ~/sky_workdir when it exists, else ~.
func (m *procManager) workdir(w string) (string, error) {
	if w == "" {
		def := filepath.Join(m.home, "sky_workdir")
		if fi, err := os.Stat(def); err == nil && fi.IsDir() {
			return def, nil
		}
		return m.home, nil
	}
	w = strings.TrimPrefix(w, "~/")
	if !filepath.IsAbs(w) {
		w = filepath.Join(m.home, w)
	}
	if fi, err := os.Stat(w); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%w: working directory %s does not exist on this node (sync the workdir first)", ErrInvalid, w)
	}
	return w, nil
}

// environ is the agent's environment with HOME set to the jobs' home (so ~/sky_workdir works) and the job's
// variables on top.
func (m *procManager) environ(extra map[string]string) []string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	env["HOME"] = m.home
	for k, v := range extra {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (m *procManager) entry(id string) (*procEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.procs[id]
	if !ok {
		return nil, fmt.Errorf("process %q %w on this node", id, ErrNotFound)
	}
	return e, nil
}

// Proc returns a process's status; with wait it first blocks until the process has ended.
func (m *procManager) Proc(ctx context.Context, id string, wait bool) (ProcStatus, error) {
	e, err := m.entry(id)
	if err != nil {
		return ProcStatus{}, err
	}
	if wait {
		select {
		case <-e.done:
		case <-ctx.Done():
			return ProcStatus{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return e.status, nil
}

var signals = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT}

// killLimit bounds the SIGKILL rounds of a job's processes (each round finds what forked since the last).
const killLimit = 3 * time.Second

// SignalProc signals every process the job process started (proc.Job.Members): its group, and the daemons that
// left it. SIGKILL is repeated until none is left.
func (m *procManager) SignalProc(_ context.Context, id, sig string) error {
	s, ok := signals[strings.ToUpper(strings.TrimPrefix(strings.ToUpper(sig), "SIG"))]
	if !ok {
		return fmt.Errorf("%w: signal %q: use TERM, KILL or INT", ErrInvalid, sig)
	}
	e, err := m.entry(id)
	if err != nil {
		return err
	}
	// The wrapper may have ended: what the job started still counts as the job until the head has released it
	// (the head kills it all when the job ends).
	if s == syscall.SIGKILL {
		return e.rec.job().Kill(killLimit)
	}
	_, err = e.rec.job().Signal(s)
	return err
}

// ProcOutput copies the process's output from offset to w; with follow it continues until the process has
// ended and everything it wrote is copied. It returns the offset reached.
func (m *procManager) ProcOutput(ctx context.Context, id string, offset int64, follow bool, w io.Writer) (int64, error) {
	e, err := m.entry(id)
	if err != nil {
		return offset, err
	}
	var done <-chan struct{}
	if follow {
		done = e.done
	}
	return tail.Follow(ctx, m.path(id, ".log"), offset, w, done)
}

// ReleaseProc forgets an ended process and deletes its files (the head has copied its output).
func (m *procManager) ReleaseProc(_ context.Context, id string) error {
	e, err := m.entry(id)
	if err != nil {
		return err
	}
	select {
	case <-e.done:
	default:
		return fmt.Errorf("%w: process %q is still running", ErrConflict, id)
	}
	m.mu.Lock()
	delete(m.procs, id)
	m.mu.Unlock()
	var errs []error
	for _, ext := range []string{".json", ".sh", ".log", ".rc", stoppedExt} {
		if err := os.Remove(m.path(id, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

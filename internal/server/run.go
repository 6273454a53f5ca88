package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/atomicfile"
)

// DefaultPort is the API server's port, SkyPilot's.
const DefaultPort = 46580

// Files under the server's directory ($STIX_HOME/server).
const (
	pidFile      = "server.pid"
	endpointFile = "endpoint"
	LogFileName  = "server.log"
)

// RunOptions configure Run.
type RunOptions struct {
	Options
	Host string
	Port int
	// TrustedNetwork allows listening beyond loopback without authentication.
	TrustedNetwork bool
}

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses an address beyond loopback unless the network is trusted (--trusted-network, or
// authentication is configured): without authentication, anyone who reaches the server acts as any user.
func CheckListen(host string, trusted bool) error {
	if IsLoopback(host) || trusted {
		return nil
	}
	return &api.Error{Code: api.CodeForbidden, Message: fmt.Sprintf("refusing to listen on %s without authentication: "+
		"anyone who can reach it could act as any user", host),
		Hint: "listen on 127.0.0.1, configure api_server.auth (docs/auth.md), or pass --trusted-network if only trusted users can reach this address"}
}

// Run serves the API on host:port until ctx is done or the process gets SIGTERM or SIGINT; it writes the pid
// and endpoint files while it serves and removes them when it stops.
func Run(ctx context.Context, o RunOptions) error {
	if err := CheckListen(o.Host, o.TrustedNetwork); err != nil {
		return err
	}
	// One server per directory: a second would take the first's requests in flight for a dead server's.
	if l, ok := FindLocal(o.Dir); ok && l.PID != os.Getpid() {
		return fmt.Errorf("an API server (pid %d) already runs over %s, at %s: stop it with `stix api stop` first",
			l.PID, o.Dir, l.Endpoint)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("API server: %w", err)
	}
	s, err := New(ctx, o.Options)
	if err != nil {
		ln.Close()
		return err
	}
	endpoint := "http://" + ln.Addr().String()
	if err := writeFiles(o.Dir, endpoint); err != nil {
		ln.Close()
		return errors.Join(err, s.Close(context.Background()))
	}
	defer removeFiles(o.Dir)
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.log.Info("API server listening", "endpoint", endpoint, "pid", os.Getpid(), "version", o.Version)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	s.log.Info("API server stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Requests first: their followers then get their ends before the connections close.
	cerr := s.Close(sctx)
	_ = hs.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, cerr)
}

func writeFiles(dir, endpoint string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, endpointFile), []byte(endpoint+"\n"), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

func removeFiles(dir string) {
	os.Remove(filepath.Join(dir, pidFile))
	os.Remove(filepath.Join(dir, endpointFile))
}

// Local is what the files of a server on this machine say: its pid and endpoint. Running tells whether the pid
// is a live process.
type Local struct {
	PID      int
	Endpoint string
}

// FindLocal reads the pid and endpoint files of the server whose directory is dir; ok is false when there are
// none or the process is gone.
func FindLocal(dir string) (Local, bool) {
	pb, err1 := os.ReadFile(filepath.Join(dir, pidFile))
	eb, err2 := os.ReadFile(filepath.Join(dir, endpointFile))
	if err1 != nil || err2 != nil {
		return Local{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pb)))
	if err != nil || !alive(pid) {
		return Local{}, false
	}
	return Local{PID: pid, Endpoint: strings.TrimSpace(string(eb))}, true
}

// alive reports whether pid is a process that has not exited (a zombie has).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: trust kill
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	return len(f) == 0 || f[0] != "Z"
}

// StopLocal stops the server whose directory is dir with SIGTERM and waits until it has exited (it ends its
// requests first); after wait it is killed. It returns the server stopped, ok false when none was running.
func StopLocal(dir string, wait time.Duration) (Local, bool, error) {
	l, ok := FindLocal(dir)
	if !ok {
		return l, false, nil
	}
	if err := syscall.Kill(l.PID, syscall.SIGTERM); err != nil {
		return l, true, fmt.Errorf("stop the API server (pid %d): %w", l.PID, err)
	}
	if waitExit(l.PID, wait) {
		return l, true, nil
	}
	_ = syscall.Kill(l.PID, syscall.SIGKILL)
	if !waitExit(l.PID, 5*time.Second) {
		return l, true, fmt.Errorf("the API server (pid %d) did not exit after SIGKILL", l.PID)
	}
	removeFiles(dir)
	return l, true, nil
}

// waitExit polls until pid has exited or d has passed.
func waitExit(pid int, d time.Duration) bool {
	end := time.Now().Add(d)
	for backoff := 5 * time.Millisecond; time.Now().Before(end); backoff = min(backoff*2, 200*time.Millisecond) {
		if !alive(pid) {
			return true
		}
		time.Sleep(backoff)
	}
	return !alive(pid)
}

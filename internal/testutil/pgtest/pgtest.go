// Package pgtest starts real PostgreSQL servers for tests: initdb and pg_ctl in a temporary directory, listening
// on a free loopback port with trust authentication and fsync off. Where the PostgreSQL binaries are missing the
// test is skipped, unless STIX_REQUIRE_POSTGRES=1 (set by .ci/run), which fails it.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvRequire, when "1", turns a missing PostgreSQL into a test failure instead of a skip.
const EnvRequire = "STIX_REQUIRE_POSTGRES"

// EnvBinDir names the directory of initdb, pg_ctl and postgres, overriding the search.
const EnvBinDir = "STIX_PG_BINDIR"

// Server is one PostgreSQL server of a test run.
type Server struct {
	Port   int
	bin    string
	dir    string // holds data/, the socket and the log; owned by the server's OS user
	runAs  string // the OS user that runs the server ("" for the current one)
	dbSeq  atomic.Int64
	mu     sync.Mutex
	closed bool
}

// BinDir returns the directory holding the PostgreSQL server binaries, or "" when there is none: $STIX_PG_BINDIR,
// else the newest /usr/lib/postgresql/*/bin (Debian's layout), else the directory of pg_ctl on PATH.
func BinDir() string {
	if d := os.Getenv(EnvBinDir); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "initdb")) {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if d := filepath.Dir(p); isExec(filepath.Join(d, "initdb")) {
			return d
		}
	}
	return ""
}

// version is the major version in /usr/lib/postgresql/VERSION/bin, 0 if none.
func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start starts a server for this test alone, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(binDirOrSkip(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func binDirOrSkip(t testing.TB) string {
	t.Helper()
	bin := BinDir()
	if bin == "" {
		msg := "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql package (scripts/test-deps.sh does) or set " + EnvBinDir
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
)

// Shared returns the server shared by the tests of this process, started on first use. The package's TestMain
// must call StopShared after the tests run.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := binDirOrSkip(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = start(bin)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// StopShared stops the shared server, if one was started.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Close()
	}
}

func start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "stix-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir}
	// initdb refuses to run as root; run the server as the postgres user, as Debian's package does.
	if os.Geteuid() == 0 {
		s.runAs = "postgres"
		u, err := user.Lookup(s.runAs)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs the postgres OS user (Debian's postgresql package makes it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	if err := s.Restart(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs one of the server binaries as the server's OS user.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

// Restart starts the server (again, after Stop) on a free loopback port: a new port each time, so that a
// client still pointing at the old one cannot reach the new server by accident.
func (s *Server) Restart() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	if err := s.startOn(port); err != nil {
		return err
	}
	s.Port = port
	return nil
}

// RestartOnPort starts the server again on the port it had, for tests of clients that reconnect.
func (s *Server) RestartOnPort() error { return s.startOn(s.Port) }

func (s *Server) startOn(port int) error {
	// fsync=off: a test server needs no durability against power loss; it still survives the crash of its
	// own processes (Stop), since written data stays in the kernel's page cache.
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", port, s.dir)
	out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		return fmt.Errorf("pgtest: pg_ctl start: %v\n%s\nserver log:\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server at once (pg_ctl -m immediate: clients are cut off mid-transaction, as in a crash).
func (s *Server) Stop() error {
	out, err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.Stop()
	os.RemoveAll(s.dir)
}

// URI returns the connection URI of database db.
func (s *Server) URI(db string) string {
	return fmt.Sprintf("postgresql://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDatabase creates a fresh, empty database and returns its URI; each call makes a new one, so tests sharing
// a server do not see each other's tables.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net, not a timing assertion
	defer cancel()
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return s.URI(name)
}

// Exec runs one SQL statement in database db.
func (s *Server) Exec(ctx context.Context, db, query string, args ...any) error {
	conn, err := pgx.Connect(ctx, s.URI(db))
	if err != nil {
		return fmt.Errorf("pgtest: connect to %s: %w", db, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("pgtest: %s: %w", query, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

package sqlitedb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// helperEnv switches the test binary into a writer process for the cross-process tests.
const helperEnv = "STIX_SQLITEDB_TEST_WRITER"

var testMigrations = []string{
	`CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
	 INSERT INTO counter (id, n) VALUES (1, 0);`,
	`CREATE TABLE events (writer TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (writer, seq));`,
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		if err := writerProcess(spec); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writerProcess is the child side of TestTwoProcessesWrite. spec is "path,name,count". It prints "ready", waits
// for a line on stdin so that both children start together, then opens the database (racing the other child
// through the migrations) and runs count read-modify-write transactions.
func writerProcess(spec string) error {
	var path, name string
	var count int
	if _, err := fmt.Sscanf(spec, "%s %s %d", &path, &name, &count); err != nil {
		return fmt.Errorf("bad spec %q: %w", spec, err)
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("wait for go: %w", err)
	}
	db, err := Open(path, testMigrations)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	for i := range count {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("txn %d: begin: %w", i, err)
		}
		var n int
		if err := tx.QueryRow("SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
			tx.Rollback()
			return fmt.Errorf("txn %d: read: %w", i, err)
		}
		if _, err := tx.Exec("UPDATE counter SET n = ? WHERE id = 1", n+1); err != nil {
			tx.Rollback()
			return fmt.Errorf("txn %d: update: %w", i, err)
		}
		if _, err := tx.Exec("INSERT INTO events (writer, seq) VALUES (?, ?)", name, i); err != nil {
			tx.Rollback()
			return fmt.Errorf("txn %d: insert: %w", i, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("txn %d: commit: %w", i, err)
		}
	}
	return nil
}

func TestMigrationsAppliedOnceAndReopenIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "dir", "state.db")
	for i := range 3 {
		db, err := Open(path, testMigrations)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		var v, rows int
		if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		// The INSERT in migration 1 would add a second row if the migration ran again.
		if err := db.QueryRow("SELECT count(*) FROM counter").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if v != len(testMigrations) || rows != 1 {
			t.Fatalf("open #%d: user_version=%d counter rows=%d, want %d and 1", i, v, rows, len(testMigrations))
		}
	}
}

func TestOpenAppliesOnlyNewMigrations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path, testMigrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE counter SET n = 41"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(path, testMigrations)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO events VALUES ('x', 1)"); err != nil {
		t.Fatalf("migration 2 not applied: %v", err)
	}
	if n != 41 {
		t.Fatalf("counter = %d after upgrade, want 41 (migration 1 ran again?)", n)
	}
}

func TestOpenSettings(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path, testMigrations)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checks := []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "1"},
		{"foreign_keys", "1"},
		{"busy_timeout", strconv.Itoa(BusyTimeoutMillis)},
	}
	for _, c := range checks {
		var got string
		if err := db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %o, want 600", perm)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	db, err := Open(newer, append(testMigrations, "CREATE TABLE later (x INTEGER)"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("this is not a database, just some text long enough to matter.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       error
	}{
		{"newer schema", newer, ErrTooNew},
		{"not a database", garbage, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(tt.path, testMigrations)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %q does not wrap %q", err, tt.want)
			}
			if !containsAll(err.Error(), tt.path, "move the file aside") {
				t.Errorf("error %q should name the file and say what to do", err)
			}
		})
	}
}

func TestTwoProcessesWrite(t *testing.T) {
	t.Parallel()
	const perWriter = 300
	path := filepath.Join(t.TempDir(), "state.db")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	var children []child
	for _, name := range []string{"a", "b"} {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", helperEnv, path, name, perWriter))
		cmd.Stderr = &testWriter{t: t, prefix: "writer " + name + ": "}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		children = append(children, child{cmd, stdin, bufio.NewReader(stdout)})
	}
	for _, c := range children {
		if line, err := c.out.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("child did not get ready: %q, %v", line, err)
		}
	}
	for _, c := range children {
		io.WriteString(c.stdin, "go\n")
	}
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("writer %d failed (see its stderr above): %v", i, err)
		}
	}

	db, err := Open(path, testMigrations)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, events int
	if err := db.QueryRow("SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM events").Scan(&events); err != nil {
		t.Fatal(err)
	}
	if n != 2*perWriter || events != 2*perWriter {
		t.Fatalf("counter=%d events=%d, want %d each (lost updates)", n, events, 2*perWriter)
	}
}

func TestOpenRejectsQuestionMark(t *testing.T) {
	t.Parallel()
	_, err := Open(filepath.Join(t.TempDir(), "a?b.db"), testMigrations)
	if err == nil {
		t.Fatal("Open accepted a path with '?'")
	}
}

// BenchmarkOpen measures opening an existing, migrated database: the cost every CLI invocation pays.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	db, err := Open(path, testMigrations)
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	for b.Loop() {
		db, err := Open(path, testMigrations)
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}

// testWriter forwards a child's stderr to the test log.
type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + string(p))
	return len(p), nil
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

package proc

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func spec(t *testing.T, script string) Spec {
	t.Helper()
	d := t.TempDir()
	return Spec{
		Script:     script,
		Env:        append(os.Environ(), "STIX_TEST_VAR=hello"),
		Dir:        d,
		ScriptPath: filepath.Join(d, "job.sh"),
		LogPath:    filepath.Join(d, "job.log"),
		RCPath:     filepath.Join(d, "job.rc"),
	}
}

func TestStartRecordsOutputAndExitCode(t *testing.T) {
	t.Parallel()
	s := spec(t, "echo out $STIX_TEST_VAR; echo err >&2; exit 3\n")
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(); code != 3 {
		t.Errorf("Wait = %d, want 3", code)
	}
	if code, ok := ReadRC(s.RCPath); !ok || code != 3 {
		t.Errorf("rc file = %d, %v; want 3", code, ok)
	}
	log, _ := os.ReadFile(s.LogPath)
	if string(log) != "out hello\nerr\n" {
		t.Errorf("log = %q", log)
	}
}

func TestOwnSessionAndGroupSignal(t *testing.T) {
	t.Parallel()
	s := spec(t, "")
	started := filepath.Join(s.Dir, "started")
	s.Script = "sleep 600 & touch " + started + "; wait\n"
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	// Signal only once the script runs: a signal that lands before the wrapper has set its trap kills the
	// wrapper too, and then there is no rc file (only the wait status, which says 143 as well).
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(started); err != nil; _, err = os.Stat(started) {
		if time.Now().After(deadline) {
			t.Fatal("the script did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, err := readStat(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	if st.PGRP != p.PID || st.SID != p.PID {
		t.Fatalf("pgrp=%d sid=%d, want both %d", st.PGRP, st.SID, p.PID)
	}
	if !Alive(p.PID, p.StartTicks) || !p.Running() {
		t.Fatal("job not alive after start")
	}
	if Alive(p.PID, p.StartTicks+1) {
		t.Error("Alive must not accept another start time (pid reuse)")
	}
	if _, err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := p.Wait()
	if code != 143 {
		t.Errorf("exit code = %d, want 143 (script killed by SIGTERM, recorded by the wrapper)", code)
	}
	if rc, ok := ReadRC(s.RCPath); !ok || rc != 143 {
		t.Errorf("rc = %d, %v; want 143", rc, ok)
	}
	deadline = time.Now().Add(10 * time.Second)
	for p.Running() {
		if time.Now().After(deadline) {
			t.Fatal("the group's sleep survived SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Signalling a job that is gone is not an error.
	if _, err := p.Signal(syscall.SIGKILL); err != nil {
		t.Error(err)
	}
}

func TestWaitExitWithPidfd(t *testing.T) {
	t.Parallel()
	s := spec(t, "")
	fifo := filepath.Join(s.Dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// The job blocks on a fifo until the test writes to it.
	s.Script = "read line < " + fifo + "\nexit 7\n"
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- WaitExit(context.Background(), p.PID, p.StartTicks) }()
	select {
	case <-done:
		t.Fatal("WaitExit returned while the process runs")
	default:
	}
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(); code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitExit(ctx, p.PID, p.StartTicks); err != nil {
		t.Errorf("WaitExit on an exited process = %v, want nil", err)
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	line := "1234 (we ird) name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != 'S' || st.PGRP != 1234 || st.SID != 1234 || st.StartTicks != 987654 {
		t.Errorf("parsed %+v", st)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

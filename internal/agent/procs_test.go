package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestProcManager(t *testing.T) *procManager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	m, err := newProcManager(ctx, dir, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestProcManager(t *testing.T) {
	t.Parallel()
	m := newTestProcManager(t)
	ctx := context.Background()
	os.Mkdir(filepath.Join(m.dir, "sky_workdir"), 0o700)
	os.WriteFile(filepath.Join(m.dir, ".bashrc"), []byte("export FROM_BASHRC=yes\ncd /\n"), 0o600)
	st, err := m.StartProc(ctx, ProcSpec{ID: "p1", Script: `echo "$PWD $HOME $FROM_BASHRC $X"; exit 2`, Env: map[string]string{"X": "x"}})
	if err != nil || st.State != ProcRunning || st.PID <= 0 {
		t.Fatalf("start = %+v, %v", st, err)
	}
	again, err := m.StartProc(ctx, ProcSpec{ID: "p1", Script: "echo second"})
	if err != nil || again.PID != st.PID {
		t.Errorf("starting the same id again = %+v, %v; want the first process", again, err)
	}
	st, err = m.Proc(ctx, "p1", true)
	if err != nil || st.State != ProcExited || st.ExitCode != 2 {
		t.Errorf("wait = %+v, %v", st, err)
	}
	var out strings.Builder
	if _, err := m.ProcOutput(ctx, "p1", 0, true, &out); err != nil {
		t.Fatal(err)
	}
	// The working directory is ~/sky_workdir even though ~/.bashrc changed directory.
	want := filepath.Join(m.dir, "sky_workdir") + " " + m.dir + " yes x\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	if err := m.ReleaseProc(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Proc(ctx, "p1", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("after release: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(m.pdir, "p1.*")); len(left) != 0 {
		t.Errorf("files left after release: %v", left)
	}
}

func TestProcManagerRejects(t *testing.T) {
	t.Parallel()
	m := newTestProcManager(t)
	ctx := context.Background()
	for _, spec := range []ProcSpec{
		{ID: "../escape", Script: "true"},
		{ID: "", Script: "true"},
		{ID: "ok", Script: "true", Workdir: "missing"},
	} {
		if _, err := m.StartProc(ctx, spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("StartProc(%+v) = %v, want ErrInvalid", spec, err)
		}
	}
	if _, err := m.StartProc(ctx, ProcSpec{ID: "long", Script: "read x < /dev/zero; sleep 600"}); err != nil {
		t.Fatal(err)
	}
	if err := m.ReleaseProc(ctx, "long"); !errors.Is(err, ErrConflict) {
		t.Errorf("release of a running process = %v, want ErrConflict", err)
	}
	if err := m.SignalProc(ctx, "long", "HUP"); !errors.Is(err, ErrInvalid) {
		t.Errorf("signal HUP = %v, want ErrInvalid", err)
	}
	if err := m.SignalProc(ctx, "long", "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	st, err := m.Proc(ctx, "long", true)
	if err != nil || st.State != ProcExited || st.ExitCode != 137 {
		t.Errorf("after SIGKILL = %+v, %v; want exited 137", st, err)
	}
}

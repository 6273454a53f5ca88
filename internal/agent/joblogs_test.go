package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRankWriterPrefixesWholeLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := openJobLogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, off, err := l.writer("0-head.log", "(a) ")
	if err != nil || off != 0 {
		t.Fatal(off, err)
	}
	b, _, _ := l.writer("1-worker1.log", "(b) ")
	a.Write([]byte("one\ntw"))
	b.Write([]byte("x\n"))
	a.Write([]byte("o\nthree"))
	l.line("note")
	a.Close()
	b.Close()
	l.Close()
	got, _ := os.ReadFile(filepath.Join(dir, "run.log"))
	if want := "(a) one\n(b) x\n(a) two\nnote\n(a) three\n"; string(got) != want {
		t.Errorf("run.log = %q, want %q", got, want)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "tasks", "0-head.log"))
	if string(raw) != "one\ntwo\nthree" {
		t.Errorf("raw = %q", raw)
	}
	// Reopening returns the raw size: where pulling resumes after a restart.
	l2, _ := openJobLogs(dir)
	defer l2.Close()
	if _, off, _ := l2.writer("0-head.log", ""); off != int64(len("one\ntwo\nthree")) {
		t.Errorf("resume offset = %d", off)
	}
}

func TestRankWriterBoundsAnEndlessLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, _ := openJobLogs(dir)
	w, _, _ := l.writer("r", "(p) ")
	w.Write([]byte(strings.Repeat("\r50%", maxPartial/4+1)))
	w.Close()
	l.Close()
	got, _ := os.ReadFile(filepath.Join(dir, "run.log"))
	if !strings.HasPrefix(string(got), "(p) \r50%") || strings.Count(string(got), "\n") != 1 {
		t.Errorf("run.log has %d bytes, %d newlines", len(got), strings.Count(string(got), "\n"))
	}
}

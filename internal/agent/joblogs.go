package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// jobLogs is a job's log directory on the head, DIR/logs/ID: run.log, the combined log that `stix logs` shows
// (every line prefixed with its origin, like SkyPilot's), and tasks/, each process's raw output as pulled from
// its node.
type jobLogs struct {
	dir string
	mu  sync.Mutex // serialises whole lines into run.log
	run *os.File
}

func jobLogDir(dir string, id int64) string { return filepath.Join(dir, "logs", fmt.Sprint(id)) }

func openJobLogs(dir string) (*jobLogs, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tasks"), 0o700); err != nil {
		return nil, fmt.Errorf("create job log directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "run.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open job log: %w", err)
	}
	return &jobLogs{dir: dir, run: f}, nil
}

func (l *jobLogs) Close() error { return l.run.Close() }

// line appends one line of the agent's own (an error summary) to the combined log.
func (l *jobLogs) line(format string, args ...any) {
	l.write([]byte(fmt.Sprintf(format, args...) + "\n"))
}

func (l *jobLogs) write(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.run.Write(b) // a full disk loses log lines, not the job
}

// rankWriter receives one process's output: raw bytes to its tasks/ file, prefixed whole lines to run.log.
type rankWriter struct {
	l       *jobLogs
	raw     *os.File
	prefix  []byte
	partial []byte
}

// maxPartial bounds a line held back waiting for its newline (a progress bar redrawn with \r never ends one).
const maxPartial = 64 << 10

// writer opens the raw file name under tasks/ and returns a writer with the given prefix, and the raw file's
// size: the offset to resume pulling from after an agent restart.
func (l *jobLogs) writer(name, prefix string) (*rankWriter, int64, error) {
	f, err := os.OpenFile(filepath.Join(l.dir, "tasks", name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open task log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return &rankWriter{l: l, raw: f, prefix: []byte(prefix)}, fi.Size(), nil
}

func (w *rankWriter) Write(p []byte) (int, error) {
	if _, err := w.raw.Write(p); err != nil {
		return 0, fmt.Errorf("write task log: %w", err)
	}
	buf := append(w.partial, p...)
	var out []byte
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		out = append(out, w.prefix...)
		out = append(out, buf[:i+1]...)
		buf = buf[i+1:]
	}
	if len(buf) > maxPartial {
		out = append(append(append(out, w.prefix...), buf...), '\n')
		buf = nil
	}
	w.partial = append(w.partial[:0], buf...)
	if len(out) > 0 {
		w.l.write(out)
	}
	return len(p), nil
}

// Close flushes a last line that had no newline.
func (w *rankWriter) Close() error {
	if len(w.partial) > 0 {
		w.l.write(append(append(append([]byte(nil), w.prefix...), w.partial...), '\n'))
		w.partial = nil
	}
	return w.raw.Close()
}

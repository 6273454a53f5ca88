package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Daemon starts `exe args...` (the same binary, `api start --foreground ...`) as a server in the background: in
// its own session, its output appended to dir/server.log, and waits until it answers /api/health (or exits,
// or wait passes). It returns the server's pid and endpoint.
func Daemon(ctx context.Context, dir, exe string, args []string, wait time.Duration) (Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Local{}, err
	}
	logPath := filepath.Join(dir, LogFileName)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Local{}, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Local{}, fmt.Errorf("start the API server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	end := time.Now().Add(wait)
	for backoff := 5 * time.Millisecond; time.Now().Before(end); backoff = min(backoff*2, 200*time.Millisecond) {
		select {
		case err := <-exited:
			tail, _ := readTail(logPath, 10)
			return Local{}, fmt.Errorf("the API server exited at start (%v); the end of %s:\n%s", err, logPath, tail)
		case <-ctx.Done():
			return Local{}, ctx.Err()
		default:
		}
		if l, ok := FindLocal(dir); ok && l.PID == cmd.Process.Pid && healthy(ctx, l.Endpoint) {
			return l, nil
		}
		time.Sleep(backoff)
	}
	return Local{}, fmt.Errorf("the API server (pid %d) did not answer within %s; see %s", cmd.Process.Pid, wait, logPath)
}

func healthy(ctx context.Context, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/api/health", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

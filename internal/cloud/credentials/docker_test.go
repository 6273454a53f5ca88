package credentials

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveDocker starts an HTTP server on a unix socket at path answering /_ping with handler, stopped at cleanup.
func serveDocker(t *testing.T, path string, handler http.HandlerFunc) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", handler)
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
}

func pingOK(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Api-Version", "1.47")
	_, _ = w.Write([]byte("OK"))
}

// shortTempDir returns a temporary directory with a short path: unix socket paths are limited to ~104 bytes.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stixdk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func dockerResult(t *testing.T, e Env) Result {
	t.Helper()
	rs := Check(context.Background(), e, "docker")
	if len(rs) != 1 {
		t.Fatalf("got %+v", rs)
	}
	return rs[0]
}

func TestDockerPing(t *testing.T) {
	t.Parallel()
	t.Run("DOCKER_HOST unix socket answering", func(t *testing.T) {
		t.Parallel()
		dir := shortTempDir(t)
		sock := filepath.Join(dir, "d.sock")
		serveDocker(t, sock, pingOK)
		r := dockerResult(t, Env{SystemRoot: dir, Getenv: func(k string) string {
			return map[string]string{"DOCKER_HOST": "unix://" + sock}[k]
		}})
		if !r.Enabled || !strings.Contains(r.Detail, "engine at unix://"+sock+" (API 1.47)") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("default socket under the system root", func(t *testing.T) {
		t.Parallel()
		dir := shortTempDir(t)
		serveDocker(t, filepath.Join(dir, "var/run/docker.sock"), pingOK)
		r := dockerResult(t, Env{SystemRoot: dir})
		if !r.Enabled {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("rootless socket after a dead system socket", func(t *testing.T) {
		t.Parallel()
		dir := shortTempDir(t)
		// A stale socket file nobody listens on, as after the daemon died.
		stale := filepath.Join(dir, "var/run/docker.sock")
		if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stale, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		serveDocker(t, filepath.Join(dir, "xdg/docker.sock"), pingOK)
		r := dockerResult(t, Env{SystemRoot: dir, Getenv: func(k string) string {
			return map[string]string{"XDG_RUNTIME_DIR": filepath.Join(dir, "xdg")}[k]
		}})
		if !r.Enabled || !strings.Contains(r.Detail, "xdg/docker.sock") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("engine answering an error", func(t *testing.T) {
		t.Parallel()
		dir := shortTempDir(t)
		sock := filepath.Join(dir, "d.sock")
		serveDocker(t, sock, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		r := dockerResult(t, Env{SystemRoot: dir, Getenv: func(k string) string {
			return map[string]string{"DOCKER_HOST": "unix://" + sock}[k]
		}})
		if r.Enabled || !strings.Contains(r.Reason, "HTTP 500") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("engine that never answers", func(t *testing.T) {
		t.Parallel()
		dir := shortTempDir(t)
		sock := filepath.Join(dir, "d.sock")
		release := make(chan struct{})
		serveDocker(t, sock, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		r := dockerResult(t, Env{SystemRoot: dir, DockerTimeout: 20 * time.Millisecond,
			Getenv: func(k string) string { return map[string]string{"DOCKER_HOST": "unix://" + sock}[k] }})
		if r.Enabled || !strings.Contains(r.Reason, "did not answer within 20ms") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("tcp DOCKER_HOST on loopback", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(pingOK)}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ln) }()
		defer func() { _ = srv.Close(); <-done }()
		r := dockerResult(t, Env{SystemRoot: t.TempDir(), Getenv: func(k string) string {
			return map[string]string{"DOCKER_HOST": "tcp://" + ln.Addr().String()}[k]
		}})
		if !r.Enabled {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("unsupported and missing", func(t *testing.T) {
		t.Parallel()
		for host, want := range map[string]string{
			"ssh://me@box":                "unix:// or tcp:// only",
			"unix:///nonexistent/d.sock":  "did not answer",
			"":                            "no Docker engine: none of",
			"tcp://[::1":                  "is not a URL",
			"npipe:////./pipe/docker_eng": "unix:// or tcp:// only",
		} {
			r := dockerResult(t, Env{SystemRoot: t.TempDir(), Getenv: func(k string) string {
				return map[string]string{"DOCKER_HOST": host}[k]
			}})
			if r.Enabled || !strings.Contains(r.Reason, want) {
				t.Errorf("DOCKER_HOST=%q: got %+v, want a reason with %q", host, r, want)
			}
		}
	})
}

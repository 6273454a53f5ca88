package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/agent"
	"github.com/stix-run/stix/internal/atomicfile"
)

func TestBinary(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, BinaryName)
	if err := atomicfile.WriteExecutable(agent, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "not-exec")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	t.Run("env var wins", func(t *testing.T) {
		t.Setenv(BinaryEnv, agent)
		if got, err := Binary(); err != nil || got != agent {
			t.Errorf("Binary() = %q, %v; want %q", got, err, agent)
		}
	})
	t.Run("env var not executable", func(t *testing.T) {
		t.Setenv(BinaryEnv, notExec)
		if _, err := Binary(); !errors.Is(err, ErrBinaryNotFound) || !strings.Contains(err.Error(), notExec) {
			t.Errorf("Binary() error = %v; want ErrBinaryNotFound naming %s", err, notExec)
		}
	})
	t.Run("on PATH", func(t *testing.T) {
		t.Setenv(BinaryEnv, "")
		t.Setenv("PATH", dir)
		if got, err := Binary(); err != nil || got != agent {
			t.Errorf("Binary() = %q, %v; want %q", got, err, agent)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Setenv(BinaryEnv, "")
		t.Setenv("PATH", empty)
		_, err := Binary()
		if !errors.Is(err, ErrBinaryNotFound) || err.Error() != "stix-agent not found: run make install" {
			t.Errorf("Binary() error = %v", err)
		}
	})
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if len(a) != 64 || a == b {
		t.Errorf("secrets %q and %q: want two different 64-hex-digit strings", a, b)
	}
}

func TestCheckHealth(t *testing.T) {
	t.Parallel()
	const secret = "s3cret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer "+secret:
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/v1/health" && r.URL.Query().Get("x") == "":
			fmt.Fprint(w, `{"version":"v1","pid":42,"started_at":"2026-01-02T03:04:05Z","dir":"/d",`+
				`"resources":{"cpus":8,"memory_gb":31.5,"accelerators":{"H100":8}}}`)
		default:
			http.Error(w, "nope", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var d net.Dialer
	ctx := context.Background()

	h, err := CheckHealth(ctx, d.DialContext, addr, secret)
	if err != nil {
		t.Fatal(err)
	}
	if h.PID != 42 || h.Version != "v1" || h.Resources.CPUs != 8 || h.Resources.MemoryGB != 31.5 || h.Resources.Accelerators["H100"] != 8 {
		t.Errorf("health = %+v", h)
	}
	if _, err := CheckHealth(ctx, d.DialContext, addr, "wrong"); !errors.Is(err, agent.ErrUnauthorized) {
		t.Errorf("wrong secret: err = %v, want agent.ErrUnauthorized", err)
	}
	if _, err := CheckHealth(ctx, d.DialContext, "", secret); err == nil {
		t.Error("no address: want an error")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if _, err := CheckHealth(ctx, d.DialContext, closed, secret); err == nil || !strings.Contains(err.Error(), closed) {
		t.Errorf("nothing listening: err = %v, want one naming %s", err, closed)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "not json") }))
	defer bad.Close()
	if _, err := CheckHealth(ctx, d.DialContext, strings.TrimPrefix(bad.URL, "http://"), secret); err == nil {
		t.Error("malformed answer: want an error")
	}
}

func TestTailLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.log")
	var sb strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&sb, "line %d\n", i)
	}
	os.WriteFile(p, []byte(sb.String()), 0o644)
	if got := TailLines(p, 3); got != "line 28\nline 29\nline 30" {
		t.Errorf("TailLines = %q", got)
	}
	if got := TailLines(filepath.Join(dir, "missing"), 3); got != "(no log)" {
		t.Errorf("TailLines(missing) = %q", got)
	}
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	if got := TailLines(filepath.Join(dir, "empty"), 3); got != "(empty log)" {
		t.Errorf("TailLines(empty) = %q", got)
	}
}

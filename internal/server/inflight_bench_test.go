package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/auth"
	"github.com/stix-run/stix/internal/cli/fakeclient"
	"github.com/stix-run/stix/internal/server"
)

// statusHelper makes the test binary a server process whose core answers Status only once it gets SIGUSR1
// (serveBlockingStatus): `TESTBINARY status-helper DIR`.
const statusHelper = "status-helper"

// serveBlockingStatus serves the API over dir on a free loopback port with a core whose Status, called for a
// caller (the status route; not the metrics' count of the fleet), blocks until the process gets SIGUSR1, then
// answers one cluster; SIGTERM stops the server.
func serveBlockingStatus(dir string) int {
	release := make(chan struct{})
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() { <-usr1; close(release) }()
	core := blockingStatus{Client: &fakeclient.Client{}, release: release}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, server.RunOptions{Host: "127.0.0.1", Options: server.Options{Dir: dir, Client: core}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// blockingStatus is a core whose Status holds a caller's call until release is closed.
type blockingStatus struct {
	*fakeclient.Client
	release chan struct{}
}

func (c blockingStatus) Status(ctx context.Context, _ []string, _ bool) ([]api.Cluster, error) {
	if _, ok := auth.From(ctx); ok {
		select {
		case <-c.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []api.Cluster{{Name: "dev", Status: api.ClusterUp, User: "ada"}}, nil
}

// BenchmarkStatusInFlight measures a real server process's memory with 1000 `status` requests in flight (issue
// 10: at most 1 MB each): it starts the server (this binary as status-helper, its core's Status blocking),
// takes its RSS once warm, opens 1000 concurrent GET /api/v1/clusters, waits until the server counts all of
// them in flight (its stix_apiserver_http_requests_in_flight gauge), takes the RSS again, then releases them
// and checks that each was answered. Run: go test -run '^$' -bench StatusInFlight -benchtime 1x ./internal/server/
func BenchmarkStatusInFlight(b *testing.B) {
	const n = 1000
	for range b.N {
		dir := b.TempDir()
		l, err := server.Daemon(context.Background(), dir, os.Args[0], []string{statusHelper, dir}, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				syscall.Kill(l.PID, syscall.SIGKILL)
			}
		}
		defer stop()
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
		get := func(path string) (string, error) {
			req, _ := http.NewRequest(http.MethodGet, l.Endpoint+path, nil)
			req.Header.Set("X-Stix-User", "ada")
			resp, err := hc.Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
			}
			return string(body), err
		}
		// Warm: the routes, the metrics and the database have served once.
		for _, p := range []string{"/api/health", "/metrics", "/api/v1/requests"} {
			if _, err := get(p); err != nil {
				b.Fatal(err)
			}
		}
		idle := rssKiB(b, l.PID)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, err := get("/api/v1/clusters")
				if err == nil && !strings.Contains(body, `"dev"`) {
					err = fmt.Errorf("status answered %s", body)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		// The scrape is itself in flight: n+1 once every status request is in.
		deadline := time.Now().Add(2 * time.Minute)
		for inFlight(b, get) < n+1 {
			if time.Now().After(deadline) {
				b.Fatalf("the server never had %d status requests in flight", n)
			}
			time.Sleep(20 * time.Millisecond) // polling a gauge, not synchronising: the deadline decides
		}
		loaded := rssKiB(b, l.PID)
		if err := syscall.Kill(l.PID, syscall.SIGUSR1); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		after := rssKiB(b, l.PID)
		stop()
		b.ReportMetric(float64(idle)/1024, "idle-MiB")
		b.ReportMetric(float64(loaded)/1024, "inflight-MiB")
		b.ReportMetric(float64(loaded-idle)/n, "KiB/request")
		b.ReportMetric(float64(after)/1024, "after-MiB")
	}
}

// inFlight reads the server's stix_apiserver_http_requests_in_flight gauge.
func inFlight(b *testing.B, get func(string) (string, error)) int {
	body, err := get("/metrics")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, "stix_apiserver_http_requests_in_flight "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				b.Fatal(err)
			}
			return int(f)
		}
	}
	b.Fatal("no stix_apiserver_http_requests_in_flight in /metrics")
	return 0
}

// rssKiB reads VmRSS of pid from /proc.
func rssKiB(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

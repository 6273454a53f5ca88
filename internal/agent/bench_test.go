package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkSubmit measures submissions through separate API calls (one keep-alive client) while the cluster is
// full, so every job is queued: the job table's write path, not job start-up.
func BenchmarkSubmit(b *testing.B) {
	c := startCluster(b, "bench", []nodeOpts{{cpus: 1}})
	ctx := context.Background()
	blocker := c.submit(b, JobSpec{Run: "sleep 600", DemandPerNode: Demand{CPUs: 1}})
	c.waitStatus(b, blocker, StatusRunning)
	const n = 1000
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		start := time.Now()
		for i := range n {
			if _, err := c.head.Submit(ctx, JobSpec{Name: "q" + strconv.Itoa(i), Run: "true", DemandPerNode: Demand{CPUs: 1}}); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "jobs/s")
	if _, err := c.head.Cancel(ctx, CancelRequest{All: true}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIdleRSS reports the resident memory of idle agents: a worker, and a head with its job table open.
func BenchmarkIdleRSS(b *testing.B) {
	c := startCluster(b, "rss", []nodeOpts{{cpus: 1}, {cpus: 1}})
	for range b.N {
		for i, name := range []string{"head", "worker"} {
			if _, err := c.agents[i].client.Health(context.Background()); err != nil {
				b.Fatal(err)
			}
			kb, err := vmRSSKB(c.agents[i].cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(kb)/1024, name+"-MB")
		}
	}
}

func vmRSSKB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, errors.New("no VmRSS")
}

// firstByte signals when the first byte arrives.
type firstByte struct {
	once sync.Once
	ch   chan struct{}
}

func (f *firstByte) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.ch) })
	return len(p), nil
}

// BenchmarkSubmitFirstByte measures from submitting `echo hi` to the first byte of its log on a follower: the
// agent-side part of `stix exec` followed by `stix logs -f`.
func BenchmarkSubmitFirstByte(b *testing.B) {
	c := startCluster(b, "latency", []nodeOpts{{cpus: 4}})
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		id, err := c.head.Submit(ctx, JobSpec{Run: "echo hi"})
		if err != nil {
			b.Fatal(err)
		}
		fb := &firstByte{ch: make(chan struct{})}
		errc := make(chan error, 1)
		go func() { _, err := c.head.Logs(ctx, id, true, 0, fb); errc <- err }()
		select {
		case <-fb.ch:
		case err := <-errc:
			b.Fatalf("log ended before its first byte: %v", err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
}

package jobs

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/jobs/jobstest"
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// fillFinished writes n finished jobs of alice and n/10 of bob (jobstest.FillFinished).
func fillFinished(b *testing.B, st store.Store, n int) {
	b.Helper()
	if err := jobstest.FillFinished(context.Background(), st, n); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkQueue10k is `jobs queue -a` of a user with 10 000 finished jobs (with events, as `-v` asks, and
// without, as the default queue), against the baseline of the same user's queue limited to its newest 100 jobs
// (events included), on SQLite and PostgreSQL.
func BenchmarkQueue10k(b *testing.B) {
	ctx := context.Background()
	backends := map[string]store.Location{"sqlite": {Home: b.TempDir()}}
	if pgtest.BinDir() != "" {
		backends["postgres"] = store.Location{DB: pgtest.Shared(b).NewDatabase(b), DBOrigin: "the benchmark"}
	}
	for name, loc := range backends {
		st, err := store.OpenAt(ctx, loc)
		if err != nil {
			b.Fatal(err)
		}
		fillFinished(b, st, 10_000)
		s, _ := OpenStore(st)
		for _, tc := range []struct {
			limit  int
			events bool
		}{{100, true}, {0, true}, {0, false}} {
			limit := tc.limit
			b.Run(fmt.Sprintf("%s/limit=%d/events=%v", name, limit, tc.events), func(b *testing.B) {
				for b.Loop() {
					rows, err := s.Queue(ctx, Filter{User: "alice", Limit: limit, Events: tc.events}, time.Now())
					if err != nil || limit == 0 && len(rows) != 10_000 || limit > 0 && len(rows) != limit {
						b.Fatalf("queue: %d rows, %v", len(rows), err)
					}
				}
			})
		}
		st.Close()
	}
}

// BenchmarkRunningJobs measures the controller's memory per running job: n jobs RUNNING at once on local
// nodes (scripted fake cloud), the Go heap in use after a GC against the baseline of the same controller with
// no job, reported as heap-bytes/job. The nodes are separate processes and not counted.
func BenchmarkRunningJobs(b *testing.B) {
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				runningJobs(b, n)
			}
		})
	}
}

func runningJobs(b *testing.B, n int) {
	home := b.TempDir()
	built := make([]*fakecloud.Provider, 1)
	c, err := core(home, "", built, twoRegions)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	st, err := store.Open(context.Background(), home)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctl, err := New(Options{Core: c, State: st, Dir: home + "/server", Limits: testLimits})
	if err != nil {
		b.Fatal(err)
	}
	ctl.Start()
	defer func() {
		ctl.Close()
		cs, _ := c.Status(context.Background(), nil, false)
		for _, cl := range cs {
			api.Wait(c.Down(context.Background(), cl.Name, true))
		}
	}()
	base, baseRSS := heapInUse(), rss()
	var cpu0 = cpuTime()
	for range n {
		if _, err := api.Wait(ctl.Client().JobsLaunch(context.Background(), api.JobsLaunchRequest{
			Task: api.TaskSpec{YAML: "run: sleep 600\n", FileName: "job.yaml"}})); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		rows, err := ctl.Client().JobsQueue(context.Background(), api.JobsQueueOptions{})
		running := 0
		for _, r := range rows {
			if r.Status == api.ManagedRunning {
				running++
			}
		}
		if err == nil && running == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d jobs RUNNING", running, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	launched := cpuTime() - cpu0
	// Steady state: every job's output followed, its lease renewed.
	cpu1 := cpuTime()
	wall := time.Now()
	if path := os.Getenv("STIX_JOBS_STEADY_PROFILE"); path != "" { // a CPU profile of the steady state alone
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	time.Sleep(5 * time.Second) // the measured interval, not synchronisation
	steady := cpuTime() - cpu1
	held, heldRSS := heapInUse(), rss()
	b.ReportMetric(float64(held-base)/float64(n), "heap-bytes/job")
	b.ReportMetric(float64(heldRSS-baseRSS)/float64(n), "rss-bytes/job")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/job")
	b.ReportMetric(steady.Seconds()/time.Since(wall).Seconds()*100, "steady-cpu-%")
	b.ReportMetric(launched.Seconds()/float64(n)*1000, "launch-cpu-ms/job")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// rss is this process's resident set size.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

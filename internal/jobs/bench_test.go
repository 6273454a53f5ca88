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
	"github.com/stix-run/stix/internal/store"
	"github.com/stix-run/stix/internal/testutil/fakecloud"
	"github.com/stix-run/stix/internal/testutil/pgtest"
)

// fillFinished writes n finished single-task jobs of user alice (and n/10 of bob), each with the five events of
// a job that ran, recovered once and succeeded, in one transaction.
func fillFinished(b *testing.B, st store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	sq, _ := store.SQLOf(st)
	tx, err := sq.DB.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0).UnixNano()
	for i := 1; i <= n+n/10; i++ {
		user := "alice"
		if i > n {
			user = "bob"
		}
		at := t0 + int64(i)*int64(time.Minute)
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO managed_jobs (id, name, user_name, submitted_at, run_timestamp, request, status, ended_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), i, fmt.Sprintf("train-%d", i), user, at, "sky-managed-x", `{"tasks":[{"task":{"yaml":"run: echo hi"}}]}`,
			string(api.ManagedSucceeded), at+int64(time.Hour)); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO managed_job_tasks (job_id, task_id, name, resources, status, cluster, infra, cloud, region,
			started_at, ended_at, job_duration, recoveries, attempt) VALUES (?, 0, ?, '1x[A100:8]', 'SUCCEEDED', ?, 'AWS (us-east-1)', 'aws', 'us-east-1', ?, ?, ?, 1, 2)`),
			i, fmt.Sprintf("train-%d", i), fmt.Sprintf("train-%d", i), at, at+int64(time.Hour), int64(50*time.Minute)); err != nil {
			b.Fatal(err)
		}
		for seq, ev := range []struct{ status, reason string }{{"PENDING", ReasonSubmitted}, {"STARTING", ReasonLaunching},
			{"RUNNING", ReasonLaunched}, {"RECOVERING", ReasonPreempted}, {"SUCCEEDED", ReasonSucceeded}} {
			if _, err := tx.ExecContext(ctx, sq.Q(`INSERT INTO managed_job_events (job_id, task_id, seq, at, status, reason, message) VALUES (?, 0, ?, ?, ?, ?, '')`),
				i, seq+1, at+int64(seq)*int64(time.Second), ev.status, ev.reason); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if sq.Postgres {
		if _, err := sq.DB.ExecContext(ctx, `SELECT setval('managed_jobs_id_seq', (SELECT MAX(id) FROM managed_jobs))`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueue10k is `jobs queue -a` of a user with 10 000 finished jobs (events included), against the
// baseline of the same user's queue limited to its newest 100 jobs, on SQLite and PostgreSQL.
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
		for _, limit := range []int{100, 0} {
			b.Run(fmt.Sprintf("%s/limit=%d", name, limit), func(b *testing.B) {
				for b.Loop() {
					rows, err := s.Queue(ctx, Filter{User: "alice", Limit: limit}, time.Now())
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

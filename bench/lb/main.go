// Command lb measures the serve load balancer (internal/serve) against talking to a replica directly, in one run:
// latency p50/p99 of sequential requests, throughput from C concurrent clients, and how fast the load balancer
// stops routing to a replica that is removed from its set or killed. Replicas are child processes (this binary
// with -replica) serving a tiny HTTP answer after -work of simulated service time.
//
// Usage: go run ./bench/lb [-n 4000] [-c 32] [-d 4s] [-rounds 3] [-work 0]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stix-run/stix/internal/serve"
)

func main() {
	replicaMode := flag.Bool("replica", false, "run as a replica (internal)")
	work := flag.Duration("work", 0, "service time of each replica request")
	n := flag.Int("n", 4000, "sequential requests per latency round")
	c := flag.Int("c", 32, "concurrent clients for throughput")
	d := flag.Duration("d", 4*time.Second, "duration of each throughput round")
	rounds := flag.Int("rounds", 3, "rounds, direct and through the load balancer alternating")
	flag.Parse()
	if *replicaMode {
		runReplica(*work)
		return
	}
	if err := run(*work, *n, *c, *d, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "lb:", err)
		os.Exit(1)
	}
}

// runReplica serves "/" (its pid) and "/last" (UnixNano of the last "/" request) on a loopback port it prints.
func runReplica(work time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var last atomic.Int64
	body := []byte(fmt.Sprintf("replica %d\n", os.Getpid()))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		last.Store(time.Now().UnixNano())
		if work > 0 {
			time.Sleep(work)
		}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/last", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, last.Load()) })
	fmt.Println(ln.Addr().String())
	_ = http.Serve(ln, mux)
}

type child struct {
	cmd *exec.Cmd
	url string
}

func startReplica(work time.Duration) (*child, error) {
	cmd := exec.Command(os.Args[0], "-replica", "-work", work.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	buf := make([]byte, 64)
	k, err := out.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("replica did not print its address: %w", err)
	}
	return &child{cmd: cmd, url: "http://" + strings.TrimSpace(string(buf[:k]))}, nil
}

func run(work time.Duration, n, c int, d time.Duration, rounds int) error {
	var reps []*child
	for i := 0; i < 3; i++ {
		r, err := startReplica(work)
		if err != nil {
			return err
		}
		defer r.cmd.Process.Kill()
		reps = append(reps, r)
	}
	failed := &attemptLog{}
	lb, err := serve.New(serve.Options{Service: "bench", Log: slog.New(failed)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lb.Serve(ctx, ln, time.Second)
	lbURL := "http://" + ln.Addr().String()

	// Latency and throughput: one replica, direct vs through the load balancer.
	if err := lb.SetReplicas([]serve.Replica{{ID: 1, URL: reps[0].url}}); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	var direct, viaLB []time.Duration
	var directRPS, lbRPS []float64
	for r := 0; r < rounds; r++ {
		direct = append(direct, latencies(client, reps[0].url+"/", n)...)
		viaLB = append(viaLB, latencies(client, lbURL+"/", n)...)
		directRPS = append(directRPS, throughput(client, reps[0].url+"/", c, d))
		lbRPS = append(lbRPS, throughput(client, lbURL+"/", c, d))
	}
	dp50, dp99 := pct(direct, 50), pct(direct, 99)
	lp50, lp99 := pct(viaLB, 50), pct(viaLB, 99)
	fmt.Printf("replica service time %v; %d rounds of %d sequential requests and %v of %d clients each way\n", work, rounds, n, d, c)
	fmt.Printf("| | p50 | p99 | throughput |\n|---|---|---|---|\n")
	fmt.Printf("| direct to one replica | %v | %v | %.0f req/s |\n", dp50, dp99, mean(directRPS))
	fmt.Printf("| through the load balancer | %v | %v | %.0f req/s |\n", lp50, lp99, mean(lbRPS))
	fmt.Printf("| added / ratio | %v | %v | %.2f× |\n\n", lp50-dp50, lp99-dp99, mean(lbRPS)/mean(directRPS))

	// Removal and death under steady load (round_robin over three replicas, c clients).
	if err := lb.SetPolicy(serve.PolicyRoundRobin, nil); err != nil {
		return err
	}
	if err := lb.SetReplicas([]serve.Replica{{ID: 1, URL: reps[0].url}, {ID: 2, URL: reps[1].url}, {ID: 3, URL: reps[2].url}}); err != nil {
		return err
	}
	stop := make(chan struct{})
	var errs, oks atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, err := client.Get(lbURL + "/"); err != nil {
					errs.Add(1)
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs.Add(1)
					} else {
						oks.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(time.Second)
	removedAt := time.Now()
	if err := lb.SetReplicas([]serve.Replica{{ID: 1, URL: reps[0].url}, {ID: 2, URL: reps[1].url}}); err != nil {
		return err
	}
	time.Sleep(time.Second)
	lastOnRemoved, err := lastRequest(reps[2].url)
	if err != nil {
		return err
	}
	killedAt := time.Now()
	_ = reps[1].cmd.Process.Kill()
	_ = reps[1].cmd.Wait()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	lastFail, fails := failed.lastFor(2)
	fmt.Printf("under load (%d clients, round_robin over 3 replicas): %d requests, %d failed\n", c, oks.Load(), errs.Load())
	fmt.Printf("- removed from the set: last request it received %v after SetReplicas returned\n", time.Unix(0, lastOnRemoved).Sub(removedAt))
	fmt.Printf("- killed (SIGKILL): %d attempts on it failed and were retried elsewhere; last one %v after the kill\n", fails, lastFail.Sub(killedAt))
	return nil
}

// lastRequest asks a replica when its last "/" request arrived.
func lastRequest(url string) (int64, error) {
	resp, err := http.Get(url + "/last")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ns int64
	_, err = fmt.Fscan(resp.Body, &ns)
	return ns, err
}

func latencies(c *http.Client, url string, n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out = append(out, time.Since(start))
	}
	return out
}

func throughput(c *http.Client, url string, clients int, d time.Duration) float64 {
	var ok atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				resp, err := c.Get(url)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / d.Seconds()
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[(len(s)-1)*p/100].Round(time.Microsecond)
}

func mean(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

// attemptLog is a slog handler keeping the load balancer's failed attempts: when, and on which replica.
type attemptLog struct {
	mu    sync.Mutex
	fails []struct {
		at      time.Time
		replica int64
	}
}

func (l *attemptLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *attemptLog) Handle(_ context.Context, r slog.Record) error {
	var id int64
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "replica" {
			id = a.Value.Int64()
		}
		return true
	})
	l.mu.Lock()
	l.fails = append(l.fails, struct {
		at      time.Time
		replica int64
	}{r.Time, id})
	l.mu.Unlock()
	return nil
}
func (l *attemptLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *attemptLog) WithGroup(string) slog.Handler      { return l }

func (l *attemptLog) lastFor(replica int64) (time.Time, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	n := 0
	for _, f := range l.fails {
		if f.replica == replica {
			n++
			if f.at.After(last) {
				last = f.at
			}
		}
	}
	return last, n
}

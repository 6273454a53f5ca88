// Command load measures an API server's throughput and memory: it sends GET requests to a route from C
// concurrent clients for a duration and prints requests/s, errors and the server's RSS (from /proc) before and
// during the load. Usage: go run ./bench/load -url http://127.0.0.1:46580/api/v1/clusters -pid PID -c 100 -d 10s
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "the URL to GET")
	pid := flag.Int("pid", 0, "the server's pid, for its RSS")
	c := flag.Int("c", 100, "concurrent clients")
	d := flag.Duration("d", 10*time.Second, "how long to load")
	flag.Parse()
	tr := &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c}
	hc := &http.Client{Transport: tr}
	fmt.Printf("idle RSS: %s\n", rss(*pid))
	var ok, failed atomic.Int64
	var peak atomic.Int64
	end := time.Now().Add(*d)
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				resp, err := hc.Get(*url)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	stop := make(chan struct{})
	go func() { // sample the server's RSS while it is loaded
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if kb := rssKB(*pid); kb > peak.Load() {
					peak.Store(kb)
				}
			}
		}
	}()
	start := time.Now()
	wg.Wait()
	close(stop)
	secs := time.Since(start).Seconds()
	fmt.Printf("%d clients, %.1fs: %d requests, %.0f requests/s, %d errors; peak RSS under load %.1f MiB\n",
		*c, secs, ok.Load(), float64(ok.Load())/secs, failed.Load(), float64(peak.Load())/1024)
}

func rss(pid int) string { return fmt.Sprintf("%.1f MiB", float64(rssKB(pid))/1024) }

// rssKB reads VmRSS of pid from /proc, in KiB; 0 when unknown.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}

package metrics

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RegisterRuntime registers the Go runtime's and the process's basics under the names Prometheus's Go client
// uses (go_goroutines, go_memstats_*, process_*), so that dashboards made for Go programs work unchanged.
// Process figures come from /proc; where there is none they are left out.
func (r *Registry) RegisterRuntime() {
	mem := &memSnapshot{}
	one := func(v float64) []Sample { return []Sample{{Value: v}} }
	r.GaugeFunc("go_goroutines", "Number of goroutines that currently exist.", nil,
		func() []Sample { return one(float64(runtime.NumGoroutine())) })
	r.GaugeFunc("go_info", "Information about the Go environment.", []string{"version"},
		func() []Sample { return []Sample{{Labels: []string{runtime.Version()}, Value: 1}} })
	for _, m := range []struct {
		name, help string
		f          func(*runtime.MemStats) float64
	}{
		{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.",
			func(s *runtime.MemStats) float64 { return float64(s.HeapAlloc) }},
		{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.",
			func(s *runtime.MemStats) float64 { return float64(s.HeapInuse) }},
		{"go_memstats_heap_objects", "Number of currently allocated objects.",
			func(s *runtime.MemStats) float64 { return float64(s.HeapObjects) }},
		{"go_memstats_sys_bytes", "Number of bytes obtained from the system.",
			func(s *runtime.MemStats) float64 { return float64(s.Sys) }},
		{"go_memstats_next_gc_bytes", "Number of heap bytes when the next garbage collection will take place.",
			func(s *runtime.MemStats) float64 { return float64(s.NextGC) }},
		{"go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of the last garbage collection.",
			func(s *runtime.MemStats) float64 { return float64(s.LastGC) / 1e9 }},
	} {
		r.GaugeFunc(m.name, m.help, nil, func() []Sample { return one(m.f(mem.get())) })
	}

	proc := func(f func(st procStat) float64) func() []Sample {
		return func() []Sample {
			st, ok := readProcStat()
			if !ok {
				return nil
			}
			return one(f(st))
		}
	}
	r.CounterFunc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil,
		proc(func(st procStat) float64 { return float64(st.utime+st.stime) / clockTicks }))
	r.GaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", nil,
		proc(func(st procStat) float64 { return float64(st.rssPages * int64(os.Getpagesize())) }))
	r.GaugeFunc("process_virtual_memory_bytes", "Virtual memory size in bytes.", nil,
		proc(func(st procStat) float64 { return float64(st.vsize) }))
	r.GaugeFunc("go_threads", "Number of OS threads of the process.", nil,
		proc(func(st procStat) float64 { return float64(st.threads) }))
	r.GaugeFunc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", nil,
		func() []Sample {
			st, ok1 := readProcStat()
			boot, ok2 := bootTime()
			if !ok1 || !ok2 {
				return nil
			}
			return one(boot + float64(st.starttime)/clockTicks)
		})
	r.GaugeFunc("process_open_fds", "Number of open file descriptors.", nil, func() []Sample {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return nil
		}
		return one(float64(len(fds)))
	})
	r.GaugeFunc("process_max_fds", "Maximum number of open file descriptors.", nil, func() []Sample {
		var l syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
			return nil
		}
		return one(float64(l.Cur))
	})
}

// memSnapshot reads the runtime's memory statistics at most once a second: one read (which stops the world
// briefly) serves every go_memstats_* family of a scrape.
type memSnapshot struct {
	mu sync.Mutex
	at time.Time
	ms runtime.MemStats
}

func (m *memSnapshot) get() *runtime.MemStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.at) > time.Second {
		runtime.ReadMemStats(&m.ms)
		m.at = time.Now()
	}
	ms := m.ms
	return &ms
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux Go supports.
const clockTicks = 100

// procStat is what /proc/self/stat says of this process (proc(5)).
type procStat struct {
	utime, stime, starttime uint64
	vsize                   uint64
	rssPages                int64
	threads                 int64
}

func readProcStat() (procStat, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, false
	}
	// Fields after the command name, which is in parentheses and may hold spaces: f[0] is field 3 (state).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return procStat{}, false
	}
	u := func(n int) uint64 { v, _ := strconv.ParseUint(f[n-3], 10, 64); return v }
	s := func(n int) int64 { v, _ := strconv.ParseInt(f[n-3], 10, 64); return v }
	return procStat{utime: u(14), stime: u(15), threads: s(20), starttime: u(22), vsize: u(23), rssPages: s(24)}, true
}

// bootTime is the system's boot time in seconds since the epoch (/proc/stat's btime).
func bootTime() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n, err == nil
		}
	}
	return 0, false
}

// Package fingerprint measures what a node offers to jobs: CPUs (honouring a cgroup quota), memory, and GPUs as
// reported by nvidia-smi, with GPU names normalised to the names SkyPilot's catalogs use.
package fingerprint

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/agent/envknob"
)

// Resources is what one node offers. It is also the wire form of a node's resources in the agent's API.
type Resources struct {
	CPUs         float64        `json:"cpus"`
	MemoryGB     float64        `json:"memory_gb"`
	Accelerators map[string]int `json:"accelerators,omitempty"` // canonical name → count
	GPUs         []GPU          `json:"gpus,omitempty"`         // one per device, in nvidia-smi index order
}

// GPU is one device.
type GPU struct {
	Index     int    `json:"index"`
	Name      string `json:"name"`     // canonical, e.g. "H100"
	RawName   string `json:"raw_name"` // as nvidia-smi printed it, e.g. "NVIDIA H100 80GB HBM3"
	MemoryMiB int    `json:"memory_mib,omitempty"`
}

// nvidiaSMIArgs is the query Detect runs; ParseNvidiaSMI parses its output.
var nvidiaSMIArgs = []string{"--query-gpu=name,memory.total", "--format=csv,noheader"}

// Detect measures this node. GPUs come from STIX_FAKE_GPUS when it is set, else from nvidia-smi when it is on
// PATH; a node without nvidia-smi simply has no GPUs.
func Detect(ctx context.Context) (Resources, error) {
	r := Resources{CPUs: cpus(), MemoryGB: memoryGB()}
	var gpus []GPU
	var err error
	if fake := envknob.FakeGPUs.Get(); fake != "" {
		gpus, err = ParseFake(fake)
		if err != nil {
			return r, fmt.Errorf("%s: %w", envknob.FakeGPUs.Name, err)
		}
	} else if path, lookErr := exec.LookPath("nvidia-smi"); lookErr == nil {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out, runErr := exec.CommandContext(ctx, path, nvidiaSMIArgs...).Output()
		if runErr != nil {
			// A broken driver must not stop the agent; the node is reported without GPUs and the reason logged
			// by the caller.
			return r, fmt.Errorf("run nvidia-smi %s: %w (reporting no GPUs)", strings.Join(nvidiaSMIArgs, " "), runErr)
		}
		gpus, err = ParseNvidiaSMI(out)
		if err != nil {
			return r, err
		}
	}
	r.GPUs = gpus
	r.Accelerators = Count(gpus)
	return r, nil
}

// Count groups devices by canonical name; nil when there are none.
func Count(gpus []GPU) map[string]int {
	if len(gpus) == 0 {
		return nil
	}
	m := map[string]int{}
	for _, g := range gpus {
		m[g.Name]++
	}
	return m
}

// ParseNvidiaSMI parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader` output: one
// "NAME, 81559 MiB" line per device.
func ParseNvidiaSMI(out []byte) ([]GPU, error) {
	var gpus []GPU
	sc := bufio.NewScanner(bytes.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		name, mem := line, ""
		if i := strings.LastIndex(line, ","); i >= 0 {
			name, mem = strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		}
		if name == "" {
			return nil, fmt.Errorf("nvidia-smi output line %d %q: no GPU name", n, line)
		}
		gpus = append(gpus, GPU{Index: len(gpus), Name: Normalize(name), RawName: name, MemoryMiB: parseMiB(mem)})
	}
	return gpus, sc.Err()
}

// parseMiB reads "81559 MiB"; "[N/A]" and other oddities give 0 (unknown).
func parseMiB(s string) int {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return v
}

// ParseFake parses STIX_FAKE_GPUS: comma-separated NAME:COUNT pairs such as "H100:8" or "T4:1,L4:2".
func ParseFake(s string) ([]GPU, error) {
	var gpus []GPU
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, count, ok := strings.Cut(part, ":")
		n, err := strconv.Atoi(strings.TrimSpace(count))
		name = strings.TrimSpace(name)
		if !ok || err != nil || n <= 0 || name == "" {
			return nil, fmt.Errorf("%q: want NAME:COUNT with COUNT ≥ 1, e.g. H100:8", part)
		}
		for range n {
			gpus = append(gpus, GPU{Index: len(gpus), Name: name, RawName: name})
		}
	}
	return gpus, nil
}

// cpus is the number of CPUs this process may use: the scheduler affinity (runtime.NumCPU) capped by a cgroup
// CPU quota when one is set (containers, Kubernetes pods, Slurm steps).
func cpus() float64 {
	n := float64(runtime.NumCPU())
	if q, ok := cgroupCPUQuota(); ok && q < n {
		return q
	}
	return n
}

// cgroupCPUQuota reads cgroup v2 cpu.max ("max 100000" or "150000 100000") or v1 cfs quota/period.
func cgroupCPUQuota() (float64, bool) {
	if b, err := os.ReadFile("/sys/fs/cgroup/cpu.max"); err == nil {
		return parseCPUMax(string(b))
	}
	q, err1 := os.ReadFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
	p, err2 := os.ReadFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return parseCPUMax(strings.TrimSpace(string(q)) + " " + strings.TrimSpace(string(p)))
}

// parseCPUMax turns "QUOTA PERIOD" into CPUs, rounded to 0.01; "max" or a negative quota means no limit.
func parseCPUMax(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) != 2 || f[0] == "max" {
		return 0, false
	}
	q, err1 := strconv.ParseFloat(f[0], 64)
	p, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false
	}
	return math.Round(q/p*100) / 100, true
}

// memoryGB is MemTotal from /proc/meminfo in GiB, capped by a cgroup v2 memory.max limit; 0 when unknown.
func memoryGB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	kb, err := parseMemTotalKB(b)
	if err != nil {
		return 0
	}
	bytes := float64(kb) * 1024
	if lim, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(lim)), 64); err == nil && v < bytes {
			bytes = v
		}
	}
	return math.Round(bytes/(1<<30)*10) / 10
}

// parseMemTotalKB finds "MemTotal:  24508320 kB".
func parseMemTotalKB(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("/proc/meminfo: no MemTotal line")
}

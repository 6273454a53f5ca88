package nodeagent

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
)

// Shortfalls says, one phrase each, what a node with resources have lacks for req: CPUs, memory and
// accelerators ("has 2 CPUs; the task asks for 4+"). gpuErr is a failed GPU probe, shown when GPUs were asked
// for. Providers whose nodes are machines they measured (local, docker, ssh) prefix the phrases with the node.
func Shortfalls(have cloud.Resources, gpuErr error, req cloud.Requirements) []string {
	var why []string
	no := func(format string, args ...any) { why = append(why, fmt.Sprintf(format, args...)) }
	if req.CPUs.IsSet() && req.CPUs.Value > have.CPUs {
		no("has %s CPUs; the task asks for %s", num(have.CPUs), req.CPUs)
	}
	if req.Memory.IsSet() {
		perNode := have.CPUs
		if req.CPUs.IsSet() {
			perNode = req.CPUs.Value
		}
		if want := req.Memory.GB(perNode); want.Value > have.MemoryGB {
			no("has %s GB of memory; the task asks for %s GB", num(math.Floor(have.MemoryGB*10)/10), want)
		}
	}
	for _, name := range sortedKeys(req.Accelerators) {
		wantN, gotN := req.Accelerators[name], AcceleratorCount(have.Accelerators, name)
		if gotN >= wantN {
			continue
		}
		switch {
		case len(have.Accelerators) == 0 && gpuErr != nil:
			no("has no GPUs (%v); the task asks for %s:%s", gpuErr, name, num(wantN))
		case len(have.Accelerators) == 0:
			no("has no GPUs; the task asks for %s:%s", name, num(wantN))
		default:
			no("has %s; the task asks for %s:%s", FormatAccelerators(have.Accelerators), name, num(wantN))
		}
	}
	return why
}

// InstanceType names a measured node's shape the way SkyPilot names Kubernetes pods: "8CPU--31GB--H100:8".
func InstanceType(r cloud.Resources) string {
	s := num(r.CPUs) + "CPU--" + num(math.Floor(r.MemoryGB)) + "GB"
	if len(r.Accelerators) > 0 {
		s += "--" + FormatAccelerators(r.Accelerators)
	}
	return s
}

// FormatAccelerators writes a count map as "A100:2,H100:8".
func FormatAccelerators(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+":"+num(m[k]))
	}
	return strings.Join(parts, ",")
}

// AcceleratorCount looks an accelerator up by name, ignoring case ("h100" asks for "H100").
func AcceleratorCount(m map[string]float64, name string) float64 {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return 0
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NodesPerCPU is how many nodes (agents, or containers) infra that shares one machine among its nodes (local,
// docker) runs per CPU of the machine, and MinMachineNodes the count it allows on any machine. Every node is a
// whole agent with its own job table and every job takes 0.5 CPU of each of its nodes, so more nodes than this
// only queue jobs on one another.
const (
	NodesPerCPU     = 8
	MinMachineNodes = 8
)

// MachineNodeLimit is the most nodes one cluster may have on infra whose nodes all share one machine, whose
// resources are have.
func MachineNodeLimit(have cloud.Resources) int {
	return max(MinMachineNodes, int(have.CPUs)*NodesPerCPU)
}

// MachineNodesShortfall says, as Shortfalls does, that req asks for more nodes than MachineNodeLimit; "" if not.
func MachineNodesShortfall(have cloud.Resources, req cloud.Requirements) string {
	limit := MachineNodeLimit(have)
	if req.Nodes() <= limit {
		return ""
	}
	return fmt.Sprintf("runs at most %d nodes on this %s-CPU machine (%d per CPU); the task asks for %d: lower num_nodes",
		limit, num(have.CPUs), NodesPerCPU, req.Nodes())
}

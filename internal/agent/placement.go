package agent

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Resource accounting works in thousandths (milli-CPUs, milli-GPUs) so that fractions such as 0.5 GPU add and
// subtract exactly.
const milli = 1000

func toMilli(f float64) int64 { return int64(math.Round(f * milli)) }

// device is one accelerator on a node and how much of it is free.
type device struct {
	Index int    // its index on the node (CUDA_VISIBLE_DEVICES)
	Name  string // canonical accelerator name
	Free  int64  // milli
}

// nodeFree is what a node has free.
type nodeFree struct {
	CPUs    int64 // milli
	Devices []device
}

// Assignment is where one rank of a job runs: the cluster node and its share of each device.
type Assignment struct {
	Node    int           `json:"node"`
	Devices []DeviceShare `json:"devices,omitempty"`
}

// DeviceShare is part (Milli/1000) of one device.
type DeviceShare struct {
	Index int   `json:"index"`
	Milli int64 `json:"milli"`
}

// gpuList is the CUDA_VISIBLE_DEVICES value for the assignment.
func (a Assignment) gpuList() string {
	idx := make([]int, 0, len(a.Devices))
	for _, d := range a.Devices {
		idx = append(idx, d.Index)
	}
	sort.Ints(idx)
	s := make([]string, len(idx))
	for i, v := range idx {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ",")
}

// capacity is the free resources of every cluster node, indexed by node rank.
type capacity []nodeFree

// newCapacity is the capacity of an idle cluster.
func newCapacity(nodes []Node) capacity {
	c := make(capacity, len(nodes))
	for i, n := range nodes {
		c[i].CPUs = toMilli(n.Resources.CPUs)
		if len(n.Resources.GPUs) > 0 {
			for _, g := range n.Resources.GPUs {
				c[i].Devices = append(c[i].Devices, device{Index: g.Index, Name: g.Name, Free: milli})
			}
			continue
		}
		// Accelerators without a device list (given by hand): number them per node in name order.
		names := make([]string, 0, len(n.Resources.Accelerators))
		for name := range n.Resources.Accelerators {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			for range n.Resources.Accelerators[name] {
				c[i].Devices = append(c[i].Devices, device{Index: len(c[i].Devices), Name: name, Free: milli})
			}
		}
	}
	return c
}

func (c capacity) clone() capacity {
	out := make(capacity, len(c))
	for i, n := range c {
		out[i] = nodeFree{CPUs: n.CPUs, Devices: append([]device(nil), n.Devices...)}
	}
	return out
}

// place picks numNodes nodes that each fit d, in rank order with the head first, and the device shares on each;
// ok is false when the cluster does not have that much free now. It does not change c.
func (c capacity) place(d Demand, numNodes int) ([]Assignment, bool) {
	var out []Assignment
	for i := range c {
		if len(out) == numNodes {
			break
		}
		if shares, ok := c[i].fit(d); ok {
			out = append(out, Assignment{Node: i, Devices: shares})
		}
	}
	return out, len(out) == numNodes
}

// fit finds device shares on one node for d. Whole counts take entirely free devices; a fraction goes to the
// fullest device it still fits on, so that fractional jobs pack together and leave whole devices whole.
func (n nodeFree) fit(d Demand) ([]DeviceShare, bool) {
	if toMilli(d.CPUs) > n.CPUs {
		return nil, false
	}
	free := append([]device(nil), n.Devices...)
	var shares []DeviceShare
	for _, name := range sortedKeys(d.Accelerators) {
		want := toMilli(d.Accelerators[name])
		if want <= 0 {
			continue
		}
		if want < milli {
			best := -1
			for i, dev := range free {
				if strings.EqualFold(dev.Name, name) && dev.Free >= want && (best < 0 || dev.Free < free[best].Free) {
					best = i
				}
			}
			if best < 0 {
				return nil, false
			}
			free[best].Free -= want
			shares = append(shares, DeviceShare{Index: free[best].Index, Milli: want})
			continue
		}
		need := int((want + milli - 1) / milli)
		for i := range free {
			if need == 0 {
				break
			}
			if strings.EqualFold(free[i].Name, name) && free[i].Free == milli {
				free[i].Free = 0
				shares = append(shares, DeviceShare{Index: free[i].Index, Milli: milli})
				need--
			}
		}
		if need > 0 {
			return nil, false
		}
	}
	return shares, true
}

// take subtracts (sign -1) or returns (sign +1) an assignment's resources.
func (c capacity) apply(as []Assignment, d Demand, sign int64) {
	for _, a := range as {
		if a.Node < 0 || a.Node >= len(c) {
			continue // a node that left the cluster after a reconfiguration
		}
		n := &c[a.Node]
		n.CPUs += sign * toMilli(d.CPUs)
		for _, s := range a.Devices {
			for i := range n.Devices {
				if n.Devices[i].Index == s.Index {
					n.Devices[i].Free += sign * s.Milli
				}
			}
		}
	}
}

// validateDemand rejects demands that no cluster could ever satisfy.
func validateDemand(d Demand, numNodes int) error {
	if numNodes < 1 {
		return fmt.Errorf("%w: num_nodes %d: must be at least 1", ErrInvalid, numNodes)
	}
	if d.CPUs < 0 || math.IsNaN(d.CPUs) || math.IsInf(d.CPUs, 0) {
		return fmt.Errorf("%w: cpus %v: must be a non-negative number", ErrInvalid, d.CPUs)
	}
	for name, v := range d.Accelerators {
		switch {
		case name == "":
			return fmt.Errorf("%w: an accelerator without a name", ErrInvalid)
		case v <= 0 || math.IsNaN(v) || math.IsInf(v, 0):
			return fmt.Errorf("%w: accelerator %s count %v: must be positive", ErrInvalid, name, v)
		case v > 1 && v != math.Trunc(v):
			return fmt.Errorf("%w: accelerator %s count %v: a count above 1 must be whole", ErrInvalid, name, v)
		}
	}
	return nil
}

// explainNeverFits says why a demand cannot fit even an idle cluster, for the submit error.
func explainNeverFits(nodes []Node, d Demand, numNodes int) string {
	var have []string
	for _, n := range nodes {
		acc := "no accelerators"
		if len(n.Resources.Accelerators) > 0 {
			var parts []string
			for _, k := range sortedKeys(n.Resources.Accelerators) {
				parts = append(parts, fmt.Sprintf("%s:%d", k, n.Resources.Accelerators[k]))
			}
			acc = strings.Join(parts, ",")
		}
		have = append(have, fmt.Sprintf("node %d: %g CPUs, %s", n.Rank, n.Resources.CPUs, acc))
	}
	return fmt.Sprintf("the job needs %d node(s) with %s each, and the cluster can never provide that (%s); "+
		"launch a cluster with more resources or lower the demand", numNodes, formatDemand(d), strings.Join(have, "; "))
}

func formatDemand(d Demand) string {
	parts := []string{fmt.Sprintf("%g CPUs", d.CPUs)}
	for _, k := range sortedKeys(d.Accelerators) {
		parts = append(parts, fmt.Sprintf("%s:%g", k, d.Accelerators[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

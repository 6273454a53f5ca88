package agent

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/agent/fingerprint"
)

func gpuNode(cpus float64, name string, n int) Node {
	var gpus []fingerprint.GPU
	for i := range n {
		gpus = append(gpus, fingerprint.GPU{Index: i, Name: name})
	}
	return Node{Resources: fingerprint.Resources{CPUs: cpus, GPUs: gpus, Accelerators: fingerprint.Count(gpus)}}
}

func TestPlace(t *testing.T) {
	t.Parallel()
	h100 := func(v float64) map[string]float64 { return map[string]float64{"H100": v} }
	tests := []struct {
		name     string
		nodes    []Node
		taken    []Demand // placed one after another before the tested demand
		demand   Demand
		numNodes int
		want     []Assignment
		ok       bool
	}{
		{"cpus on the head first", []Node{gpuNode(4, "", 0), gpuNode(4, "", 0)}, nil,
			Demand{CPUs: 2}, 1, []Assignment{{Node: 0}}, true},
		{"full head, next node", []Node{gpuNode(4, "", 0), gpuNode(4, "", 0)}, []Demand{{CPUs: 3}},
			Demand{CPUs: 2}, 1, []Assignment{{Node: 1}}, true},
		{"two nodes in rank order", []Node{gpuNode(4, "", 0), gpuNode(4, "", 0), gpuNode(4, "", 0)}, []Demand{{CPUs: 4}},
			Demand{CPUs: 1}, 2, []Assignment{{Node: 1}, {Node: 2}}, true},
		{"not enough nodes free", []Node{gpuNode(4, "", 0), gpuNode(4, "", 0)}, []Demand{{CPUs: 4}},
			Demand{CPUs: 1}, 2, nil, false},
		{"fractional cpus add up exactly", []Node{gpuNode(1, "", 0)}, []Demand{{CPUs: 0.1}, {CPUs: 0.2}, {CPUs: 0.3}, {CPUs: 0.3}},
			Demand{CPUs: 0.1}, 1, []Assignment{{Node: 0}}, true},
		{"whole gpus", []Node{gpuNode(8, "H100", 4)}, []Demand{{Accelerators: h100(1)}},
			Demand{Accelerators: h100(2)}, 1, []Assignment{{Node: 0, Devices: []DeviceShare{{1, 1000}, {2, 1000}}}}, true},
		{"half gpus pack onto the used device", []Node{gpuNode(8, "H100", 2)}, []Demand{{Accelerators: h100(0.5)}},
			Demand{Accelerators: h100(0.5)}, 1, []Assignment{{Node: 0, Devices: []DeviceShare{{0, 500}}}}, true},
		{"a whole gpu skips a shared one", []Node{gpuNode(8, "H100", 2)}, []Demand{{Accelerators: h100(0.25)}},
			Demand{Accelerators: h100(1)}, 1, []Assignment{{Node: 0, Devices: []DeviceShare{{1, 1000}}}}, true},
		{"no whole gpu left", []Node{gpuNode(8, "H100", 2)}, []Demand{{Accelerators: h100(0.25)}, {Accelerators: h100(0.25)}},
			Demand{Accelerators: h100(2)}, 1, nil, false},
		{"names match without case", []Node{gpuNode(8, "H100", 1)}, nil,
			Demand{Accelerators: map[string]float64{"h100": 1}}, 1, []Assignment{{Node: 0, Devices: []DeviceShare{{0, 1000}}}}, true},
		{"wrong accelerator", []Node{gpuNode(8, "H100", 1)}, nil,
			Demand{Accelerators: map[string]float64{"T4": 1}}, 1, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCapacity(tt.nodes)
			for _, d := range tt.taken {
				p, ok := c.place(d, 1)
				if !ok {
					t.Fatalf("setup demand %v does not fit", d)
				}
				c.apply(p, d, -1)
			}
			before := c.clone()
			got, ok := c.place(tt.demand, tt.numNodes)
			if ok != tt.ok || (ok && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("place = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
			if !reflect.DeepEqual(c, before) {
				t.Error("place changed the capacity")
			}
			if ok {
				c.apply(got, tt.demand, -1)
				c.apply(got, tt.demand, +1)
				if !reflect.DeepEqual(c, before) {
					t.Error("taking and returning an assignment does not restore the capacity")
				}
			}
		})
	}
}

func TestValidateDemand(t *testing.T) {
	t.Parallel()
	bad := []struct {
		d Demand
		n int
	}{
		{Demand{}, 0},
		{Demand{CPUs: -1}, 1},
		{Demand{Accelerators: map[string]float64{"": 1}}, 1},
		{Demand{Accelerators: map[string]float64{"A100": 0}}, 1},
		{Demand{Accelerators: map[string]float64{"A100": 2.5}}, 1},
	}
	for _, b := range bad {
		if err := validateDemand(b.d, b.n); !errors.Is(err, ErrInvalid) {
			t.Errorf("validateDemand(%v, %d) = %v, want ErrInvalid", b.d, b.n, err)
		}
	}
	if err := validateDemand(Demand{CPUs: 0.5, Accelerators: map[string]float64{"T4": 0.5}}, 2); err != nil {
		t.Error(err)
	}
}

func TestGPUList(t *testing.T) {
	t.Parallel()
	a := Assignment{Devices: []DeviceShare{{3, 1000}, {1, 1000}}}
	if got := a.gpuList(); got != "1,3" {
		t.Errorf("gpuList = %q", got)
	}
	if got := (Assignment{}).gpuList(); got != "" {
		t.Errorf("empty gpuList = %q", got)
	}
	got := explainNeverFits([]Node{gpuNode(2, "T4", 1)}, Demand{CPUs: 4, Accelerators: map[string]float64{"T4": 1}}, 1)
	if want := "1 node(s) with 4 CPUs, T4:1 each"; !strings.Contains(got, want) || !strings.Contains(got, "node 0: 2 CPUs, T4:1") {
		t.Errorf("explanation %q", got)
	}
}

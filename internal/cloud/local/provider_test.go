package local

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/cloud/nodeagent"
)

func TestFeasible(t *testing.T) {
	t.Parallel()
	machine := cloud.Resources{CPUs: 2, MemoryGB: 7.7}
	gpuBox := cloud.Resources{CPUs: 16, MemoryGB: 125.4, Accelerators: map[string]float64{"H100": 2}}
	cases := []struct {
		name    string
		have    cloud.Resources
		detErr  error
		req     cloud.Requirements
		reasons []string // nil: feasible
	}{
		{name: "no requirements", have: machine},
		{name: "fits", have: machine, req: cloud.Requirements{CPUs: cloud.Amount{Value: 2}, Memory: cloud.Memory{Value: 4, OrMore: true}, NumNodes: 3}},
		{name: "too many cpus", have: machine, req: cloud.Requirements{CPUs: cloud.Amount{Value: 4, OrMore: true}},
			reasons: []string{"local infra has 2 CPUs; the task asks for 4+"}},
		{name: "too much memory", have: machine, req: cloud.Requirements{Memory: cloud.Memory{Value: 16}},
			reasons: []string{"local infra has 7.7 GB of memory; the task asks for 16 GB"}},
		{name: "memory per cpu of the request", have: machine, req: cloud.Requirements{CPUs: cloud.Amount{Value: 1}, Memory: cloud.Memory{Value: 4, PerCPU: true}}},
		{name: "memory per cpu of the machine", have: machine, req: cloud.Requirements{Memory: cloud.Memory{Value: 4, PerCPU: true, OrMore: true}},
			reasons: []string{"local infra has 7.7 GB of memory; the task asks for 8+ GB"}},
		{name: "no gpus", have: machine, req: cloud.Requirements{Accelerators: map[string]float64{"H100": 8}},
			reasons: []string{"local infra has no GPUs; the task asks for H100:8"}},
		{name: "gpu probe failed", have: machine, detErr: errors.New("nvidia-smi failed"), req: cloud.Requirements{Accelerators: map[string]float64{"T4": 1}},
			reasons: []string{"local infra has no GPUs (nvidia-smi failed); the task asks for T4:1"}},
		{name: "gpus fit, any case", have: gpuBox, req: cloud.Requirements{Accelerators: map[string]float64{"h100": 2}}},
		{name: "fractional gpu fits", have: gpuBox, req: cloud.Requirements{Accelerators: map[string]float64{"H100": 0.5}}},
		{name: "not enough gpus", have: gpuBox, req: cloud.Requirements{Accelerators: map[string]float64{"H100": 8}},
			reasons: []string{"local infra has H100:2; the task asks for H100:8"}},
		{name: "cloud-only features", have: machine, req: cloud.Requirements{
			UseSpot: true, ImageID: "docker:ubuntu"},
			reasons: []string{
				// what local infra has no capability for first, then what its one node is not
				"local infra has no spot instances; remove use_spot",
				"local infra runs no images; the task asks for image_id docker:ubuntu",
			}},
		{name: "a cloud's place and shape", have: machine, req: cloud.Requirements{
			InstanceType: "p3.2xlarge", Region: "us-east-1", Zone: "us-east-1a"},
			reasons: []string{
				"local infra has no instance type p3.2xlarge; its only node is 2CPU--7GB",
				`local infra has only the region "local"; the task asks for "us-east-1"`,
				`local infra has no zones; the task asks for "us-east-1a"`,
			}},
		{name: "as many nodes as the machine holds", have: machine, req: cloud.Requirements{NumNodes: 16}},
		{name: "more nodes than the machine holds", have: machine, req: cloud.Requirements{NumNodes: 1000},
			reasons: []string{"local infra runs at most 16 nodes on this 2-CPU machine (8 per CPU); the task asks for 1000: lower num_nodes"}},
		{name: "its own region and instance type", have: gpuBox, req: cloud.Requirements{Region: "LOCAL", InstanceType: "16CPU--125GB--H100:2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := New(Options{Root: t.TempDir(), Detect: func(context.Context) (cloud.Resources, error) { return tc.have, tc.detErr }})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := p.Offers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			offers, err := cloud.Feasible(p, snap, tc.req)
			if tc.reasons == nil {
				if err != nil {
					t.Fatalf("Feasible: %v", err)
				}
				want := cloud.Offer{Cloud: "local", Region: "local", InstanceType: nodeagent.InstanceType(tc.have), Resources: tc.have}
				if len(offers) != 1 || !reflect.DeepEqual(offers[0], want) {
					t.Errorf("offers = %+v, want [%+v]", offers, want)
				}
				return
			}
			var inf *cloud.InfeasibleError
			if !errors.As(err, &inf) {
				t.Fatalf("Feasible = %v, %v; want an InfeasibleError", offers, err)
			}
			if !reflect.DeepEqual(inf.Reasons, tc.reasons) {
				t.Errorf("reasons:\n%q\nwant\n%q", inf.Reasons, tc.reasons)
			}
			if s := cloud.ScopeOf(err); s.Level != cloud.LevelCloud || s.Cloud != "local" {
				t.Errorf("scope = %v, want the local cloud", s)
			}
		})
	}
}

func TestFeasibleOnThisMachine(t *testing.T) {
	t.Parallel()
	p, err := New(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	feasible, err := p.Offers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	offers, err := feasible(cloud.Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 1 || offers[0].CPUs < 1 || offers[0].MemoryGB <= 0 || offers[0].HourlyPrice != 0 {
		t.Errorf("offers = %+v; want one free offer with this machine's CPUs and memory", offers)
	}
}

func TestSubnetAvoids127Dot0(t *testing.T) {
	t.Parallel()
	for _, root := range []string{"/a", "/b", "/home/u/.stix/local", t.TempDir()} {
		p, _ := New(Options{Root: root})
		if s := p.subnet(); s == 0 || s == 255 {
			t.Errorf("subnet of %s = %d", root, s)
		}
		if ip := p.subnetIP(0, 1); ip == "127.0.0.1" {
			t.Errorf("first address of %s is 127.0.0.1", root)
		}
	}
}

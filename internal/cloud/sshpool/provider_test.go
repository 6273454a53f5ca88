package sshpool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/config"
)

func TestParseDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, out string
		want      cloud.Resources
		wantErr   string
	}{
		{name: "no GPUs", out: "8\nMemTotal:       32768000 kB\n",
			want: cloud.Resources{CPUs: 8, MemoryGB: 31.3}},
		{name: "GPUs", out: "96\nMemTotal: 1073741824 kB\ngpus\nNVIDIA H100 80GB HBM3, 81559 MiB\nNVIDIA H100 80GB HBM3, 81559 MiB\n",
			want: cloud.Resources{CPUs: 96, MemoryGB: 1024, Accelerators: map[string]float64{"H100": 2}}},
		{name: "bad nproc", out: "x\nMemTotal: 1 kB\n", wantErr: "nproc printed"},
		{name: "no meminfo", out: "4\n", wantErr: "unexpected output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDetect(tc.out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseDetect = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// Feasible decides from the pools file and the recorded state alone: no host is contacted.
func TestFeasible(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pools := filepath.Join(dir, FileName)
	data := "gpus:\n  hosts: [10.0.0.1, 10.0.0.2]\ncpus:\n  hosts: [10.0.1.1]\ncold:\n  hosts: [10.0.2.1]\n"
	if err := os.WriteFile(pools, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(ProviderOptions{Root: filepath.Join(dir, "ssh"), PoolsFile: pools, Home: dir})
	if err != nil {
		t.Fatal(err)
	}
	all, err := p.Pools()
	if err != nil {
		t.Fatal(err)
	}
	host := func(pool string, i int) Host { q, _ := Find(all, pool); return q.Hosts[i] }
	gpu := cloud.Resources{CPUs: 16, MemoryGB: 64, Accelerators: map[string]float64{"A100": 4}}
	small := cloud.Resources{CPUs: 2, MemoryGB: 4}
	err = p.update(context.Background(), func(s *state) error {
		s.Pools["gpus"] = &poolState{Hosts: []hostRecord{{host("gpus", 0), gpu}, {host("gpus", 1), gpu}}}
		s.Pools["cpus"] = &poolState{Hosts: []hostRecord{{host("cpus", 0), small}}}
		s.Clusters["busy"] = &clusterState{Pool: "gpus", Nodes: []nodeState{{Host: host("gpus", 1)}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var capErr *cloud.CapacityError
	var inf *cloud.InfeasibleError
	tests := []struct {
		name    string
		req     cloud.Requirements
		config  string   // --config KEY=VALUE for the request, if any
		want    []string // offers as region/instance type
		wantErr func(error) bool
		errText string
	}{
		{name: "any pool", req: cloud.Requirements{}, want: []string{"gpus/16CPU--64GB--A100:4", "cpus/2CPU--4GB"}},
		{name: "GPUs", req: cloud.Requirements{Accelerators: map[string]float64{"a100": 2}}, want: []string{"gpus/16CPU--64GB--A100:4"}},
		{name: "named pool", req: cloud.Requirements{Region: "cpus", CPUs: cloud.Amount{Value: 2}}, want: []string{"cpus/2CPU--4GB"}},
		{name: "full pool", req: cloud.Requirements{Region: "gpus", NumNodes: 2},
			wantErr: func(err error) bool { return errors.As(err, &capErr) && capErr.Region == "gpus" }, errText: "busy"},
		{name: "too small", req: cloud.Requirements{Region: "cpus", Memory: cloud.Memory{Value: 8}},
			wantErr: func(err error) bool { return errors.As(err, &inf) }, errText: "has 4 GB of memory"},
		{name: "not up", req: cloud.Requirements{Region: "cold"}, wantErr: func(error) bool { return true }, errText: "stix ssh up --infra cold"},
		{name: "unknown pool", req: cloud.Requirements{Region: "nope"}, wantErr: func(error) bool { return true }, errText: `no SSH node pool "nope"`},
		{name: "spot", req: cloud.Requirements{UseSpot: true}, wantErr: func(err error) bool { return errors.As(err, &inf) }, errText: "spot"},
		{name: "nothing fits", req: cloud.Requirements{CPUs: cloud.Amount{Value: 64}},
			wantErr: func(err error) bool { return errors.As(err, &inf) }, errText: "cold is not up"},
		{name: "allowed pools", req: cloud.Requirements{}, config: "ssh.allowed_node_pools=[cpus]", want: []string{"cpus/2CPU--4GB"}},
		{name: "only a pool not allowed fits", req: cloud.Requirements{Accelerators: map[string]float64{"a100": 2}},
			config: "ssh.allowed_node_pools=[cpus]", wantErr: func(err error) bool { return errors.As(err, &inf) },
			errText: "gpus is not in ssh.allowed_node_pools [cpus] (set at --config)"},
		{name: "named pool not allowed", req: cloud.Requirements{Region: "gpus"}, config: "ssh.allowed_node_pools=[cpus]",
			wantErr: func(error) bool { return true }, errText: "SSH node pool gpus is not allowed by ssh.allowed_node_pools [cpus]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.config != "" {
				cfg, err := config.Load(config.Inputs{CLI: []string{tc.config}})
				if err != nil {
					t.Fatal(err)
				}
				ctx = config.NewContext(ctx, cfg)
			}
			offers, err := feasibleNow(ctx, p, tc.req)
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v (%T), want one mentioning %q", err, err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range offers {
				if o.Cloud != Name || o.HourlyPrice != 0 {
					t.Errorf("offer %+v", o)
				}
				got = append(got, o.Region+"/"+o.InstanceType)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("offers = %v, want %v", got, tc.want)
			}
		})
	}
}

// feasibleNow asks a fresh snapshot of p's offers, as planning does, for req.
func feasibleNow(ctx context.Context, p *Provider, req cloud.Requirements) ([]cloud.Offer, error) {
	offers, err := p.Offers(ctx)
	if err != nil {
		return nil, err
	}
	return cloud.Feasible(p, offers, req)
}

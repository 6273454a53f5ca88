package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/catalog/catalogtest"
	"github.com/stix-run/stix/internal/cloud"
)

// TestSnapshotParsesEveryCloud reads each cloud's real files (different column orders, LF and CRLF, optional
// columns, GpuInfo literals) and checks one known row per cloud end to end.
func TestSnapshotParsesEveryCloud(t *testing.T) {
	cat := catalogtest.Snapshot(t)
	if got, want := cat.Names(), []string{"aws", "cudo", "gcp", "hyperbolic", "lambda", "nebius", "runpod"}; !slices.Equal(got, want) {
		t.Fatalf("clouds = %v, want %v", got, want)
	}
	tests := []struct {
		cloud  string
		zones  bool
		q      catalog.Query
		want   catalog.Instance // checked field by field where set
		region string
	}{
		{cloud: "aws", zones: true, q: catalog.Query{InstanceType: "p4d.24xlarge", Zone: "apne1-az4"},
			want: catalog.Instance{InstanceType: "p4d.24xlarge", AcceleratorName: "A100", AcceleratorCount: 8, VCPUs: 96, MemoryGiB: 1152, DeviceMemoryGiB: 40, Price: 44.92215, Region: "ap-northeast-1", Zone: "apne1-az4"}},
		{cloud: "aws", zones: true, q: catalog.Query{InstanceType: "p4d.24xlarge", Zone: "apne1-az4", UseSpot: true},
			want: catalog.Instance{InstanceType: "p4d.24xlarge", Price: 14.052, Spot: true, Region: "ap-northeast-1"}},
		{cloud: "gcp", zones: true, q: catalog.Query{Accelerator: "t4", Zone: "us-central1-a"},
			// The host (cheapest N1 with 4+ vCPUs and 16+ GB) plus the GPU's own row (0.35).
			want: catalog.Instance{InstanceType: "n1-standard-8", AcceleratorName: "T4", AcceleratorCount: 1, VCPUs: 8, MemoryGiB: 30, DeviceMemoryGiB: 16, Region: "us-central1", Zone: "us-central1-a"}},
		{cloud: "lambda", q: catalog.Query{InstanceType: "gpu_1x_h100_pcie", Region: "us-east-1"},
			want: catalog.Instance{InstanceType: "gpu_1x_h100_pcie", AcceleratorName: "H100", AcceleratorCount: 1, VCPUs: 26, MemoryGiB: 200, DeviceMemoryGiB: 80, Price: 2.49, Region: "us-east-1"}},
		{cloud: "runpod", zones: true, q: catalog.Query{InstanceType: "1x_H100_SECURE", Zone: "CA-MTL-1"},
			want: catalog.Instance{InstanceType: "1x_H100_SECURE", AcceleratorName: "H100", AcceleratorCount: 1, VCPUs: 16, MemoryGiB: 80, Price: 2.39, Region: "CA", Zone: "CA-MTL-1"}},
		{cloud: "hyperbolic", q: catalog.Query{Accelerator: "H100", AcceleratorCount: 8},
			want: catalog.Instance{InstanceType: "8x-H100-224-2165", AcceleratorName: "H100", AcceleratorCount: 8, VCPUs: 224, MemoryGiB: 2165, Price: 11.12, Region: "default"}},
		{cloud: "nebius", q: catalog.Query{Accelerator: "H100", AcceleratorCount: 8, UseSpot: true},
			want: catalog.Instance{InstanceType: "gpu-h100-sxm_8gpu-128vcpu-1600gb", VCPUs: 128, MemoryGiB: 1600, Price: 10, Spot: true, Region: "eu-north1"}},
		{cloud: "cudo", q: catalog.Query{Accelerator: "L40S"},
			want: catalog.Instance{AcceleratorName: "L40S", AcceleratorCount: 1, DeviceMemoryGiB: 48}},
	}
	for _, tc := range tests {
		t.Run(tc.cloud+"/"+tc.q.InstanceType+tc.q.Accelerator, func(t *testing.T) {
			t.Parallel()
			c, ok := cat.Cloud(tc.cloud)
			if !ok {
				t.Fatalf("cloud %s not loaded", tc.cloud)
			}
			if c.HasZones() != tc.zones {
				t.Errorf("HasZones = %v, want %v", c.HasZones(), tc.zones)
			}
			ins, err := c.Instances(tc.q)
			if err != nil {
				t.Fatalf("Instances(%+v): %v", tc.q, err)
			}
			got, w := ins[0], tc.want
			check := func(field string, got, want any, set bool) {
				if set && got != want {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			check("InstanceType", got.InstanceType, w.InstanceType, w.InstanceType != "")
			check("AcceleratorName", got.AcceleratorName, w.AcceleratorName, w.AcceleratorName != "")
			check("AcceleratorCount", got.AcceleratorCount, w.AcceleratorCount, w.AcceleratorCount != 0)
			check("VCPUs", got.VCPUs, w.VCPUs, w.VCPUs != 0)
			check("MemoryGiB", got.MemoryGiB, w.MemoryGiB, w.MemoryGiB != 0)
			check("DeviceMemoryGiB", got.DeviceMemoryGiB, w.DeviceMemoryGiB, w.DeviceMemoryGiB != 0)
			check("Price", got.Price, w.Price, w.Price != 0)
			check("Spot", got.Spot, w.Spot, w.Spot)
			check("Region", got.Region, w.Region, w.Region != "")
			check("Zone", got.Zone, w.Zone, w.Zone != "")
		})
	}
}

// TestGCPAcceleratorPrice checks that a GCP GPU offer costs its host plus the GPU in the same zone.
func TestGCPAcceleratorPrice(t *testing.T) {
	t.Parallel()
	c, _ := catalogtest.Snapshot(t).Cloud("gcp")
	host, err := c.Instances(catalog.Query{InstanceType: "n1-standard-8", Zone: "us-central1-a"})
	if err != nil {
		t.Fatal(err)
	}
	gpu, err := c.Instances(catalog.Query{Accelerator: "T4", Zone: "us-central1-a"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := gpu[0].Price - host[0].Price; diff < 0.3499 || diff > 0.3501 {
		t.Errorf("T4 offer %v - host %v = %v, want the T4 row's 0.35", gpu[0].Price, host[0].Price, diff)
	}
	// An attached GPU named with an instance type is priced the same way.
	both, err := c.Instances(catalog.Query{InstanceType: "n1-standard-8", Accelerator: "T4", Zone: "us-central1-a"})
	if err != nil {
		t.Fatal(err)
	}
	if both[0].Price != gpu[0].Price {
		t.Errorf("n1-standard-8 + T4 = %v, want %v", both[0].Price, gpu[0].Price)
	}
	// A2/A3 types cannot take other GPUs; N1 cannot take an H100.
	if _, err := c.Instances(catalog.Query{InstanceType: "n1-standard-8", Accelerator: "H100"}); err == nil || !strings.Contains(err.Error(), "cannot be attached") {
		t.Errorf("H100 on n1-standard-8: err = %v, want 'cannot be attached'", err)
	}
}

func TestDefaultInstances(t *testing.T) {
	cat := catalogtest.Snapshot(t)
	tests := []struct {
		cloud, want string
		wantErr     string
	}{
		// SkyPilot's defaults: AWS picks the cheapest of m6i/m7i/r6i/r7i/c6i/c7i (and -d) with 8+ vCPUs and
		// 4 GB per vCPU; GCP's n2/n4 families are not in this snapshot.
		{cloud: "aws", want: "m6i.2xlarge"},
		{cloud: "gcp", wantErr: "GCP has no instance of the default families"},
		{cloud: "lambda", want: "gpu_1x_a10"},
		{cloud: "nebius", want: "cpu-e2_2vcpu-8gb"},
		{cloud: "runpod", want: "cpu3c-2-4"},
	}
	for _, tc := range tests {
		t.Run(tc.cloud, func(t *testing.T) {
			t.Parallel()
			c, _ := cat.Cloud(tc.cloud)
			in, err := c.DefaultInstance("", "", false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.InstanceType != tc.want {
				t.Errorf("default = %s, want %s", in.InstanceType, tc.want)
			}
		})
	}
}

// TestQueryShapes covers cpus and memory in their N, N+ and Nx forms.
func TestQueryShapes(t *testing.T) {
	c, _ := catalogtest.Snapshot(t).Cloud("aws")
	tests := []struct {
		name string
		q    catalog.Query
		ok   func(catalog.Instance) bool
	}{
		{"cpus 8", catalog.Query{CPUs: cloud.Amount{Value: 8}}, func(i catalog.Instance) bool { return i.VCPUs == 8 && i.MemoryGiB >= 32 }},
		{"cpus 16+", catalog.Query{CPUs: cloud.Amount{Value: 16, OrMore: true}}, func(i catalog.Instance) bool { return i.VCPUs >= 16 }},
		{"memory 64", catalog.Query{Memory: cloud.Memory{Value: 64}}, func(i catalog.Instance) bool { return i.MemoryGiB == 64 }},
		{"memory 32+", catalog.Query{Memory: cloud.Memory{Value: 32, OrMore: true}}, func(i catalog.Instance) bool { return i.MemoryGiB >= 32 }},
		{"memory 8x", catalog.Query{CPUs: cloud.Amount{Value: 8}, Memory: cloud.Memory{Value: 8, PerCPU: true}}, func(i catalog.Instance) bool { return i.VCPUs == 8 && i.MemoryGiB >= 64 }},
		{"spot", catalog.Query{UseSpot: true}, func(i catalog.Instance) bool { return i.Spot }},
		{"region", catalog.Query{Region: "US-EAST-2"}, func(i catalog.Instance) bool { return i.Region == "us-east-2" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ins, err := c.Instances(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			for i, in := range ins {
				if !tc.ok(in) {
					t.Fatalf("instance %+v does not fit %+v", in, tc.q)
				}
				if i > 0 && in.Price < ins[i-1].Price {
					t.Fatalf("not sorted by price at %d: %v after %v", i, in.Price, ins[i-1].Price)
				}
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	cat := catalogtest.Snapshot(t)
	tests := []struct {
		name    string
		cloud   string
		q       catalog.Query
		want    []string // substrings of the error
		suggest string   // a suggestion that must be offered
		hint    bool     // the "+" hint must be given
		locErr  bool
	}{
		{name: "unknown accelerator", cloud: "aws", q: catalog.Query{Accelerator: "A10O"}, want: []string{"AWS does not offer A10O"}, suggest: "A100:8"},
		{name: "lower-case name", cloud: "aws", q: catalog.Query{Accelerator: "a100", AcceleratorCount: 8}},
		{name: "count not offered", cloud: "aws", q: catalog.Query{Accelerator: "H100", AcceleratorCount: 3}, want: []string{"only as H100:8"}, suggest: "H100:8"},
		{name: "exact cpus", cloud: "aws", q: catalog.Query{CPUs: cloud.Amount{Value: 3}}, want: []string{"3 vCPUs"}, hint: true},
		{name: "exact memory", cloud: "runpod", q: catalog.Query{Memory: cloud.Memory{Value: 33}}, want: []string{"33 GB memory"}, hint: true},
		{name: "impossible cpus+", cloud: "aws", q: catalog.Query{CPUs: cloud.Amount{Value: 100000, OrMore: true}}, want: []string{"100000+ vCPUs"}},
		{name: "unknown region", cloud: "aws", q: catalog.Query{Region: "us-east-9"}, want: []string{`invalid region "us-east-9" for AWS`, "us-east-1"}, locErr: true},
		{name: "far region", cloud: "lambda", q: catalog.Query{Region: "mars-1"}, want: []string{"Lambda regions are:", "us-east-1"}, locErr: true},
		{name: "unknown zone", cloud: "gcp", q: catalog.Query{Region: "us-central1", Zone: "us-central1-z"}, want: []string{`invalid zone "us-central1-z"`, "us-central1-a"}, locErr: true},
		{name: "zone without zones", cloud: "lambda", q: catalog.Query{Zone: "us-east-1a"}, want: []string{"does not support zones"}, locErr: true},
		{name: "unknown instance type", cloud: "aws", q: catalog.Query{InstanceType: "p3.2xlarg"}, want: []string{`no instance type "p3.2xlarg"`}, suggest: "p3.2xlarge"},
		{name: "instance without the accelerator", cloud: "aws", q: catalog.Query{InstanceType: "p3.2xlarge", Accelerator: "A100"}, want: []string{"p3.2xlarge has V100:1"}},
		{name: "no spot", cloud: "lambda", q: catalog.Query{UseSpot: true}, want: []string{"Lambda does not offer spot"}},
		{name: "gcp count", cloud: "gcp", q: catalog.Query{Accelerator: "T4", AcceleratorCount: 3}, want: []string{"only as T4:1, T4:2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := cat.Cloud(tc.cloud)
			_, err := c.Instances(tc.q)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error for %+v", tc.q)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var le *catalog.LocationError
			if errors.As(err, &le) != tc.locErr {
				t.Errorf("LocationError = %v, want %v (%v)", !tc.locErr, tc.locErr, err)
			}
			var nf *catalog.NoFitError
			if !tc.locErr {
				if !errors.As(err, &nf) {
					t.Fatalf("error %T is not a *NoFitError", err)
				}
				var inf *cloud.InfeasibleError
				if !errors.As(err, &inf) {
					t.Errorf("NoFitError does not unwrap to *cloud.InfeasibleError")
				}
				if tc.suggest != "" && !slices.Contains(nf.Suggestions, tc.suggest) {
					t.Errorf("suggestions %v lack %q", nf.Suggestions, tc.suggest)
				}
				if tc.hint != (len(nf.Hints) > 0) {
					t.Errorf("hints = %v, want hint: %v", nf.Hints, tc.hint)
				}
			}
		})
	}
}

func TestSuggestAccelerators(t *testing.T) {
	cat := catalogtest.Snapshot(t)
	for name, want := range map[string]string{"a100": "A100", "H10O": "H100", "A10": "A100-80GB", "l40": "L40S", "tpuv4": ""} {
		got := cat.SuggestAccelerators(name)
		if want != "" && !slices.Contains(got, want) {
			t.Errorf("SuggestAccelerators(%q) = %v, want it to contain %q", name, got, want)
		}
	}
	if got := cat.SuggestAccelerators("zzzzzzzz"); len(got) != 0 {
		t.Errorf("SuggestAccelerators(zzzzzzzz) = %v, want none", got)
	}
	if clouds := cat.AcceleratorClouds("h100"); !slices.Contains(clouds, "Lambda") {
		t.Errorf("accelerators.csv clouds for H100 = %v", clouds)
	}
}

func TestAcceleratorsWithMemory(t *testing.T) {
	cat := catalogtest.Snapshot(t)
	got := cat.AcceleratorsWithMemory(80, true, "")
	for _, want := range []string{"H100", "A100-80GB"} {
		if !slices.Contains(got, want) {
			t.Errorf("80GB+ = %v, want %s", got, want)
		}
	}
	if slices.Contains(got, "T4") {
		t.Errorf("80GB+ includes T4: %v", got)
	}
	if exact := cat.AcceleratorsWithMemory(16, false, "nvidia"); !slices.Contains(exact, "T4") || slices.Contains(exact, "H100") {
		t.Errorf("nvidia:16GB = %v", exact)
	}
}

func TestImages(t *testing.T) {
	cat := catalogtest.Snapshot(t)
	aws, _ := cat.Cloud("aws")
	id, err := aws.ImageID("skypilot:custom-gpu-ubuntu", "us-east-1")
	if err != nil || id != "ami-0c3bc6c2c633f3dd3" {
		t.Errorf("aws image = %q, %v", id, err)
	}
	if _, err := aws.ImageID("skypilot:custom-gpu-ubuntu", "mars-1"); err == nil {
		t.Error("no error for a region without the image")
	}
	if _, err := aws.ImageID("skypilot:custom-gpu-ubunt", "us-east-1"); err == nil || !strings.Contains(err.Error(), "did you mean skypilot:custom-gpu-ubuntu") {
		t.Errorf("unknown tag: %v", err)
	}
	gcp, _ := cat.Cloud("gcp")
	// GCP images are global: any region resolves.
	id, err = gcp.ImageID("skypilot:cpu-debian-10", "us-central1")
	if err != nil || !strings.HasPrefix(id, "projects/deeplearning-platform-release/") {
		t.Errorf("gcp image = %q, %v", id, err)
	}
	lambda, _ := cat.Cloud("lambda")
	if _, err := lambda.ImageID("skypilot:x", ""); err == nil {
		t.Error("lambda has no images.csv, want an error")
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := catalog.Load(context.Background(), catalog.Dir(t.TempDir()), "aws"); err == nil || !strings.Contains(err.Error(), "aws/vms.csv does not exist") {
		t.Errorf("missing cloud: %v", err)
	}
	if _, err := catalog.Load(context.Background(), catalog.Dir(t.TempDir()), "../etc"); err == nil {
		t.Error("a cloud name with a slash must be refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := catalog.Load(ctx, catalog.Dir(catalogtest.SnapshotDir(t)), "aws"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// writeCloud writes one cloud's vms.csv into a fresh catalog directory.
func writeCloud(t *testing.T, cloudName, content string) catalog.Dir {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, cloudName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cloudName, "vms.csv"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return catalog.Dir(dir)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAcceleratorCounts(t *testing.T) {
	t.Parallel()
	aws, _ := catalogtest.Snapshot(t).Cloud("aws")
	counts := aws.AcceleratorCounts("a100", "", "")
	if !slices.Contains(counts, 8) || !slices.IsSorted(counts) {
		t.Errorf("AWS A100 counts %v: want sorted, with 8 (p4d.24xlarge)", counts)
	}
	for _, n := range counts {
		if _, err := aws.Instances(catalog.Query{Accelerator: "A100", AcceleratorCount: n}); err != nil {
			if _, err := aws.Instances(catalog.Query{Accelerator: "A100", AcceleratorCount: n, UseSpot: true}); err != nil {
				t.Errorf("count %g is listed but cannot be launched: %v", n, err)
			}
		}
	}
	if got := aws.AcceleratorCounts("A100", "us-nowhere-1", ""); len(got) != 0 {
		t.Errorf("counts in a region that does not exist: %v", got)
	}
	if got := aws.AcceleratorCounts("NoSuchGPU", "", ""); len(got) != 0 {
		t.Errorf("counts of an unknown accelerator: %v", got)
	}
}

// TestPlaceName: a zone that names its region (us-east-1a) is shown alone, as SkyPilot does; a zone ID
// (aps1-az3, from AWS's spot rows) is meaningless alone and comes after its region.
func TestPlaceName(t *testing.T) {
	t.Parallel()
	tests := []struct{ cloud, region, zone, want string }{
		{"aws", "us-east-1", "us-east-1a", "AWS (us-east-1a)"},
		{"aws", "ap-south-1", "aps1-az3", "AWS (ap-south-1, aps1-az3)"},
		{"aws", "us-east-1", "", "AWS (us-east-1)"},
		{"gcp", "us-central1", "us-central1-a", "GCP (us-central1-a)"},
		{"local", "local", "", "Local"},
		{"aws", "", "", "AWS"},
	}
	for _, tt := range tests {
		if got := catalog.PlaceName(tt.cloud, tt.region, tt.zone); got != tt.want {
			t.Errorf("PlaceName(%q, %q, %q) = %q, want %q", tt.cloud, tt.region, tt.zone, got, tt.want)
		}
	}
}

// TestEqualPriceRegionOrder: regions of equal price come in the order SkyPilot tries them: US regions first on
// AWS, Lambda and Hyperbolic, then by name; by name on every other cloud.
func TestEqualPriceRegionOrder(t *testing.T) {
	cat := catalogtest.Snapshot(t)
	lambda, _ := cat.Cloud("lambda")
	ins, err := lambda.Instances(catalog.Query{Accelerator: "A10", AcceleratorCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	var regions []string
	for _, in := range ins {
		if in.InstanceType == "gpu_1x_a10" {
			regions = append(regions, in.Region)
		}
	}
	if len(regions) < 3 || regions[0] != "us-east-1" {
		t.Fatalf("gpu_1x_a10 regions = %v, want us-east-1 first", regions)
	}
	firstOther := slices.IndexFunc(regions, func(r string) bool { return !strings.HasPrefix(r, "us-") })
	if firstOther < 0 || slices.ContainsFunc(regions[firstOther:], func(r string) bool { return strings.HasPrefix(r, "us-") }) {
		t.Errorf("gpu_1x_a10 regions = %v, want every US region before the others", regions)
	}

	tests := []struct {
		cloud, a, b string
		want        int
	}{
		{"aws", "us-west-2", "ap-northeast-1", -1},
		{"AWS", "eu-west-1", "us-east-1", 1},
		{"aws", "us-east-1", "us-east-2", -1},
		{"lambda", "us-midwest-1", "asia-south-1", -1},
		{"hyperbolic", "us-central-1", "eu-north-1", -1},
		{"gcp", "asia-east1", "us-central1", -1},
		{"nebius", "eu-north1", "us-central1", -1},
		{"azure", "eastus", "eastus", 0},
	}
	for _, tc := range tests {
		if got := catalog.CompareRegions(tc.cloud, tc.a, tc.b); got != tc.want {
			t.Errorf("CompareRegions(%s, %s, %s) = %d, want %d", tc.cloud, tc.a, tc.b, got, tc.want)
		}
	}
}

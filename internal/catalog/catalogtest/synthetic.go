package catalogtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// FullSize are the row counts of SkyPilot's real catalogs, roughly: what benchmarks should load.
var FullSize = map[string]int{"aws": 20000, "gcp": 20000, "azure": 40000}

// WriteSynthetic writes synthetic vms.csv files of the given sizes under dir/<cloud>/, in each cloud's real
// column layout (AWS, GCP with accelerator price rows, Azure without zones), with GpuInfo literals on GPU rows.
// The content is deterministic. Clouds other than aws, gcp and azure are an error.
func WriteSynthetic(dir string, rows map[string]int) error {
	for cloudName, n := range rows {
		var data string
		switch cloudName {
		case "aws":
			data = syntheticAWS(n)
		case "gcp":
			data = syntheticGCP(n)
		case "azure":
			data = syntheticAzure(n)
		default:
			return fmt.Errorf("no synthetic layout for %q", cloudName)
		}
		if err := os.MkdirAll(filepath.Join(dir, cloudName), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, cloudName, "vms.csv"), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

type shape struct {
	it       string
	acc      string
	accCount int
	cpus     float64
	mem      float64
	price    float64
	gpuMiB   int
}

func gpuInfo(s shape) string {
	if s.acc == "" {
		return ""
	}
	return fmt.Sprintf(`"{'Gpus': [{'Name': '%s', 'Manufacturer': 'NVIDIA', 'Count': %d, 'MemoryInfo': {'SizeInMiB': %d}}], 'TotalGpuMemoryInMiB': %d}"`,
		s.acc, s.accCount, s.gpuMiB, s.gpuMiB*s.accCount)
}

// familyShapes makes one shape per size of a family.
func familyShapes(prefix string, sep string, memPerCPU, pricePerCPU float64, names []string, cpus []float64) []shape {
	var out []shape
	for i, n := range names {
		out = append(out, shape{it: prefix + sep + n, cpus: cpus[i], mem: cpus[i] * memPerCPU, price: cpus[i] * pricePerCPU})
	}
	return out
}

func regionsAndZones(prefixes []string, perPrefix, zonesPer int) [][2]string {
	var out [][2]string
	for _, p := range prefixes {
		for r := 1; r <= perPrefix; r++ {
			region := fmt.Sprintf("%s-%d", p, r)
			for z := 0; z < zonesPer; z++ {
				out = append(out, [2]string{region, fmt.Sprintf("%s%c", region, 'a'+z)})
			}
		}
	}
	return out
}

func syntheticAWS(n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"}
	cpus := []float64{2, 4, 8, 16, 32, 48, 64, 96, 128}
	var shapes []shape
	for _, f := range []struct {
		name     string
		mem, ppc float64
	}{{"m6i", 4, 0.048}, {"m6id", 4, 0.059}, {"m7i", 4, 0.050}, {"c6i", 2, 0.042}, {"c6id", 2, 0.050}, {"c7i", 2, 0.044},
		{"r6i", 8, 0.063}, {"r6id", 8, 0.075}, {"r7i", 8, 0.066}, {"m5", 4, 0.048}, {"c5", 2, 0.043}, {"r5", 8, 0.063},
		{"t3", 4, 0.042}, {"m6a", 4, 0.043}, {"c6a", 2, 0.038}, {"r6a", 8, 0.057}} {
		shapes = append(shapes, familyShapes(f.name, ".", f.mem, f.ppc, sizes, cpus)...)
	}
	shapes = append(shapes, []shape{
		{it: "p4d.24xlarge", acc: "A100", accCount: 8, cpus: 96, mem: 1152, price: 32.77, gpuMiB: 40960},
		{it: "p5.48xlarge", acc: "H100", accCount: 8, cpus: 192, mem: 2048, price: 98.32, gpuMiB: 81920},
		{it: "g4dn.xlarge", acc: "T4", accCount: 1, cpus: 4, mem: 16, price: 0.526, gpuMiB: 16384},
		{it: "g4dn.12xlarge", acc: "T4", accCount: 4, cpus: 48, mem: 192, price: 3.912, gpuMiB: 16384},
		{it: "g5.xlarge", acc: "A10G", accCount: 1, cpus: 4, mem: 16, price: 1.006, gpuMiB: 24576},
		{it: "g5.48xlarge", acc: "A10G", accCount: 8, cpus: 192, mem: 768, price: 16.288, gpuMiB: 24576},
		{it: "g6.xlarge", acc: "L4", accCount: 1, cpus: 4, mem: 16, price: 0.805, gpuMiB: 23034},
		{it: "p3.2xlarge", acc: "V100", accCount: 1, cpus: 8, mem: 61, price: 3.06, gpuMiB: 16384},
	}...)
	places := regionsAndZones([]string{"us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast", "sa-east", "ca-central"}, 4, 5)
	var b strings.Builder
	b.WriteString("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n")
	for i := 0; i < n; i++ {
		s := shapes[i%len(shapes)]
		pl := places[(i/len(shapes))%len(places)]
		factor := 1 + 0.3*float64((i/len(shapes))%7)/7
		price := s.price * factor
		spot := ""
		if rng.IntN(10) > 0 {
			spot = fmt.Sprintf("%.6f", price*(0.2+0.5*rng.Float64()))
		}
		count := ""
		if s.acc != "" {
			count = fmt.Sprintf("%d.0", s.accCount)
		}
		fmt.Fprintf(&b, "%s,%s,%s,%.1f,%.1f,%s,%.5f,%s,%s,%s\n", s.it, s.acc, count, s.cpus, s.mem, gpuInfo(s), price, spot, pl[0], pl[1])
	}
	return b.String()
}

func syntheticGCP(n int) string {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []string{"2", "4", "8", "16", "32", "48", "64", "80", "96", "128"}
	cpus := []float64{2, 4, 8, 16, 32, 48, 64, 80, 96, 128}
	var shapes []shape
	for _, f := range []struct {
		name     string
		mem, ppc float64
	}{{"n2-standard", 4, 0.0486}, {"n2-highmem", 8, 0.0655}, {"n2-highcpu", 1, 0.0359}, {"n4-standard", 4, 0.0475},
		{"n4-highcpu", 2, 0.0390}, {"n4-highmem", 8, 0.0620}, {"n1-standard", 3.75, 0.0475}, {"n1-highmem", 6.5, 0.0592},
		{"e2-standard", 4, 0.0335}, {"c2-standard", 4, 0.0522}} {
		shapes = append(shapes, familyShapes(f.name, "-", f.mem, f.ppc, sizes, cpus)...)
	}
	shapes = append(shapes,
		shape{it: "a2-highgpu-1g", cpus: 12, mem: 85, price: 0.95},
		shape{it: "a2-highgpu-8g", cpus: 96, mem: 680, price: 7.58},
		shape{it: "g2-standard-4", cpus: 4, mem: 16, price: 0.17},
		shape{it: "a3-highgpu-8g", cpus: 208, mem: 1872, price: 10.4},
		// Accelerator price rows: no instance type.
		shape{acc: "T4", accCount: 1, price: 0.35, gpuMiB: 16384},
		shape{acc: "T4", accCount: 4, price: 1.40, gpuMiB: 16384},
		shape{acc: "V100", accCount: 1, price: 2.48, gpuMiB: 16384},
		shape{acc: "A100", accCount: 1, price: 2.93, gpuMiB: 40960},
		shape{acc: "A100", accCount: 8, price: 23.47, gpuMiB: 40960},
		shape{acc: "L4", accCount: 1, price: 0.56, gpuMiB: 23034},
		shape{acc: "H100", accCount: 8, price: 77.0, gpuMiB: 81920},
	)
	places := regionsAndZones([]string{"us-central", "us-east", "us-west", "europe-west", "asia-east", "asia-south"}, 4, 3)
	var b strings.Builder
	b.WriteString("InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n")
	for i := 0; i < n; i++ {
		s := shapes[i%len(shapes)]
		pl := places[(i/len(shapes))%len(places)]
		price := s.price * (1 + 0.25*float64((i/len(shapes))%5)/5)
		cpu, mem, count, gi := "", "", "", ""
		if s.it != "" {
			cpu, mem = fmt.Sprintf("%.1f", s.cpus), fmt.Sprintf("%.1f", s.mem)
		}
		if s.acc != "" {
			count = fmt.Sprintf("%d", s.accCount)
			gi = fmt.Sprintf(`"{'Gpus': [{'MemoryInfo': {'SizeInMiB': %d}}]}"`, s.gpuMiB)
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s,%.5f,%.5f\n", s.it, cpu, mem, s.acc, count, gi, pl[0], pl[1], price, price*(0.2+0.3*rng.Float64()))
	}
	return b.String()
}

func syntheticAzure(n int) string {
	rng := rand.New(rand.NewPCG(5, 6))
	var shapes []shape
	for _, f := range []struct {
		prefix, suffix string
		mem, ppc       float64
	}{{"Standard_D", "s_v5", 4, 0.048}, {"Standard_E", "s_v5", 8, 0.063}, {"Standard_F", "s_v2", 2, 0.042},
		{"Standard_D", "as_v5", 4, 0.043}, {"Standard_E", "as_v5", 8, 0.057}, {"Standard_D", "_v4", 4, 0.048},
		{"Standard_E", "_v4", 8, 0.063}, {"Standard_D", "ds_v5", 4, 0.057}, {"Standard_L", "s_v3", 8, 0.078}} {
		for _, c := range []float64{2, 4, 8, 16, 32, 48, 64, 96} {
			shapes = append(shapes, shape{it: fmt.Sprintf("%s%.0f%s", f.prefix, c, f.suffix), cpus: c, mem: c * f.mem, price: c * f.ppc})
		}
	}
	shapes = append(shapes,
		shape{it: "Standard_NC4as_T4_v3", acc: "T4", accCount: 1, cpus: 4, mem: 28, price: 0.526, gpuMiB: 16384},
		shape{it: "Standard_ND96asr_v4", acc: "A100", accCount: 8, cpus: 96, mem: 900, price: 27.2, gpuMiB: 40960},
		shape{it: "Standard_NC24ads_A100_v4", acc: "A100-80GB", accCount: 1, cpus: 24, mem: 220, price: 3.67, gpuMiB: 81920},
	)
	var regions []string
	for _, p := range []string{"eastus", "westus", "centralus", "northeurope", "westeurope", "southeastasia", "japaneast", "australiaeast", "uksouth", "canadacentral"} {
		for i := 1; i <= 6; i++ {
			regions = append(regions, fmt.Sprintf("%s%d", p, i))
		}
	}
	var b strings.Builder
	b.WriteString("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation\n")
	for i := 0; i < n; i++ {
		s := shapes[i%len(shapes)]
		region := regions[(i/len(shapes))%len(regions)]
		price := s.price * (1 + 0.2*float64((i/len(shapes))%9)/9)
		count := ""
		if s.acc != "" {
			count = fmt.Sprintf("%d", s.accCount)
		}
		fmt.Fprintf(&b, "%s,%s,%s,%.0f,%.1f,%s,%.5f,%.5f,%s,V2\n", s.it, s.acc, count, s.cpus, s.mem, gpuInfo(s), price, price*(0.1+0.3*rng.Float64()), region)
	}
	return b.String()
}

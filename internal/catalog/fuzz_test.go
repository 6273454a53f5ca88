package catalog

import (
	"testing"

	"github.com/stix-run/stix/internal/cloud"
)

// FuzzParseVMS feeds arbitrary bytes through parsing, indexing and a few queries: any input must give rows or
// an error, never a panic.
func FuzzParseVMS(f *testing.F) {
	f.Add("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n" +
		"p4d.24xlarge,A100,8.0,96.0,1152.0,\"{'Gpus': [{'Name': 'A100', 'MemoryInfo': {'SizeInMiB': 40960}}]}\",32.77,12.4,us-east-1,use1-az1\n")
	f.Add("InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\r\n,,,T4,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 16384}}]},us-central1,us-central1-a,0.35,0.14\r\nn1-standard-8,8,30,,,,us-central1,us-central1-a,0.38,0.08\r\n")
	f.Add("Region,Price,MemoryGiB,vCPUs,InstanceType\n\"r\n1\",\"0.5\",8,2,\"a\"\"b\"\n")
	f.Add("\"")
	f.Fuzz(func(t *testing.T, data string) {
		for _, name := range []string{"aws", "gcp"} {
			rows, zones, err := parseVMS("vms.csv", data)
			if err != nil {
				continue
			}
			c := newCloud(name, "vms.csv", rows, zones)
			for _, q := range []Query{{}, {Accelerator: "T4"}, {Accelerator: "A100", AcceleratorCount: 8, UseSpot: true},
				{CPUs: cloud.Amount{Value: 2}}, {InstanceType: "n1-standard-8", Accelerator: "T4"}, {Region: "us-east-1", Zone: "use1-az1"}} {
				_, _ = c.Instances(q)
				_, _ = c.Feasible(cloud.Requirements{Accelerators: map[string]float64{q.Accelerator: q.AcceleratorCount}})
			}
		}
		_, _ = parsePyLiteral(data)
		_, _ = parseImages("images.csv", data)
		_, _ = parseAccelerators("accelerators.csv", data)
	})
}

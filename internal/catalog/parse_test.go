package catalog_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/catalog"
)

const lambdaLike = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice\n" +
	"gpu_1x_a10,A10,1.0,30.0,200.0,0.75,us-east-1,\"{'Gpus': [{'Name': 'A10', 'Manufacturer': 'NVIDIA', 'Count': 1.0, 'MemoryInfo': {'SizeInMiB': 24576}}], 'TotalGpuMemoryInMiB': 24576}\",\n" +
	"cpu_4x_general,,,4.0,16.0,0.2,us-west-1,,\n"

// TestLineEndings checks that LF and CRLF files (SkyPilot ships both) read the same.
func TestLineEndings(t *testing.T) {
	for name, content := range map[string]string{
		"lf":       lambdaLike,
		"crlf":     strings.ReplaceAll(lambdaLike, "\n", "\r\n"),
		"no final": strings.TrimSuffix(lambdaLike, "\n"),
		"bom":      "\ufeff" + lambdaLike,
		"blank":    strings.Replace(lambdaLike, "\n", "\n\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cat, err := catalog.Load(context.Background(), writeCloud(t, "lambda", content), "lambda")
			if err != nil {
				t.Fatal(err)
			}
			c, _ := cat.Cloud("lambda")
			if c.Rows() != 2 {
				t.Fatalf("rows = %d, want 2", c.Rows())
			}
			ins, err := c.Instances(catalog.Query{Accelerator: "A10"})
			if err != nil {
				t.Fatal(err)
			}
			if in := ins[0]; in.InstanceType != "gpu_1x_a10" || in.VCPUs != 30 || in.DeviceMemoryGiB != 24 || in.Price != 0.75 {
				t.Errorf("row = %+v", in)
			}
			if got := c.Regions(); len(got) != 2 || got[0] != "us-east-1" {
				t.Errorf("regions = %v", got)
			}
		})
	}
}

// TestOptionalColumns reads a minimal header: no accelerators, GpuInfo, SpotPrice or zones.
func TestOptionalColumns(t *testing.T) {
	content := "Region,Price,MemoryGiB,vCPUs,InstanceType\nr1,0.5,8,2,small\nr1,1.0,16,4,big\n"
	cat, err := catalog.Load(context.Background(), writeCloud(t, "mycloud", content), "mycloud")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cat.Cloud("mycloud")
	ins, err := c.Instances(catalog.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 2 || ins[0].InstanceType != "small" || ins[1].Price != 1.0 {
		t.Errorf("instances = %+v", ins)
	}
	if _, err := c.Instances(catalog.Query{UseSpot: true}); err == nil || !strings.Contains(err.Error(), "spot price") {
		t.Errorf("spot without SpotPrice column: %v", err)
	}
}

// TestCorruptFiles checks that a broken catalog names the file and line, never panics.
func TestCorruptFiles(t *testing.T) {
	header := "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n"
	good := "m6i.large,,,2.0,8.0,,0.096,0.04,us-east-1,use1-az1\n"
	tests := []struct {
		name, content, want string
	}{
		{"truncated row", header + good + "m6i.large,,,2.0,8.0,,0.0", "vms.csv:3: has 7 fields, the header has 10"},
		{"unterminated quote", header + good + "p4d,A100,8,96,1152,\"{'Gpus': [,1,2,us-east-1,z\n", "vms.csv:3: unterminated quoted field"},
		{"bad number", header + good + "m6i.large,,,two,8.0,,0.096,0.04,us-east-1,use1-az1\n", `vms.csv:3: column vCPUs: "two" is not a number`},
		{"stray quote", header + "m6i\"large,,,2.0,8.0,,0.096,0.04,us-east-1,use1-az1\n", "vms.csv:2: unexpected quote"},
		{"text after quote", header + "\"m6i\"x,,,2.0,8.0,,0.096,0.04,us-east-1,use1-az1\n", "vms.csv:2: unexpected text"},
		{"missing column", "InstanceType,vCPUs,MemoryGiB,Region\nx,1,2,r\n", "vms.csv:1: header has no Price column"},
		{"empty", "", "vms.csv: file is empty"},
		{"empty region", header + "m6i.large,,,2.0,8.0,,0.096,0.04,,use1-az1\n", "vms.csv:2: empty Region"},
		{"too many fields", header + good + good[:len(good)-1] + ",extra\n", "vms.csv:3: has 11 fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeCloud(t, "aws", tc.content)
			_, err := catalog.Load(context.Background(), dir, "aws")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(string(dir), "aws", "vms.csv")) {
				t.Errorf("error %q does not name the file's path", err)
			}
			var fe *catalog.FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *catalog.FileError", err)
			}
		})
	}
}

// TestQuotedFields covers commas, doubled quotes and newlines inside quoted fields.
func TestQuotedFields(t *testing.T) {
	content := "InstanceType,vCPUs,MemoryGiB,Price,Region,GpuInfo,AcceleratorName,AcceleratorCount\n" +
		"\"a,b\",1,2,0.1,r1,\"{'Gpus': [{'Name': 'X \"\"Y\"\"', 'MemoryInfo': {'SizeInMiB': 2048}}]}\",X,1\n" +
		"\"multi\nline\",1,2,0.2,r1,,,\n" +
		"after,1,2,0.3,r1,,,\n"
	cat, err := catalog.Load(context.Background(), writeCloud(t, "q", content), "q")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cat.Cloud("q")
	ins, err := c.Instances(catalog.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if ins[0].InstanceType != "a,b" || ins[0].DeviceMemoryGiB != 2 || ins[1].InstanceType != "multi\nline" || ins[2].InstanceType != "after" {
		t.Errorf("instances = %+v", ins)
	}
	// Lines are counted across the embedded newline.
	_, err = catalog.Load(context.Background(), writeCloud(t, "q", content+"bad,1,2,x,r1,,,\n"), "q")
	if err == nil || !strings.Contains(err.Error(), "vms.csv:6:") {
		t.Errorf("line after a multi-line field: %v", err)
	}
}

func TestAcceleratorsCSVErrors(t *testing.T) {
	dir := writeCloud(t, "aws", "InstanceType,vCPUs,MemoryGiB,Price,Region\nx,1,1,1,r\n")
	for name, content := range map[string]string{
		"bad literal": "AcceleratorName,Clouds\nA100,\"['AWS', \"\n",
		"no header":   "Name\nA100\n",
	} {
		t.Run(name, func(t *testing.T) {
			writeFile(t, filepath.Join(string(dir), "common", "accelerators.csv"), content)
			if _, err := catalog.Load(context.Background(), dir, "aws"); err == nil || !strings.Contains(err.Error(), "accelerators.csv:") {
				t.Errorf("err = %v, want one naming accelerators.csv and a line", err)
			}
		})
	}
}

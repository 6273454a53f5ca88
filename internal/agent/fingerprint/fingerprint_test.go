package fingerprint

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

func TestParseNvidiaSMICaptured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		want   map[string]int
		memMiB int // of the first device
	}{
		{"h100-sxm-8.txt", map[string]int{"H100": 8}, 81559},
		{"a100-sxm4-80gb-2.txt", map[string]int{"A100-80GB": 2}, 81920},
		{"a100-sxm4-40gb-1.txt", map[string]int{"A100": 1}, 40960},
		{"t4-1.txt", map[string]int{"T4": 1}, 15360},
		{"v100-16gb-4.txt", map[string]int{"V100": 4}, 16384},
		{"l4-1.txt", map[string]int{"L4": 1}, 23034},
		{"rtx4090-2.txt", map[string]int{"RTX4090": 2}, 24564},
		{"rtx6000-ada-1.txt", map[string]int{"RTX6000-Ada": 1}, 49140},
		{"empty.txt", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			out, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			gpus, err := ParseNvidiaSMI(out)
			if err != nil {
				t.Fatalf("ParseNvidiaSMI: %v", err)
			}
			if got := Count(gpus); !maps.Equal(got, tt.want) {
				t.Errorf("counts = %v, want %v", got, tt.want)
			}
			for i, g := range gpus {
				if g.Index != i {
					t.Errorf("device %d has index %d", i, g.Index)
				}
			}
			if len(gpus) > 0 && gpus[0].MemoryMiB != tt.memMiB {
				t.Errorf("memory = %d MiB, want %d", gpus[0].MemoryMiB, tt.memMiB)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"NVIDIA H100 80GB HBM3":          "H100",
		"NVIDIA H100 PCIe":               "H100",
		"NVIDIA A100-SXM4-80GB":          "A100-80GB",
		"NVIDIA A100 80GB PCIe":          "A100-80GB",
		"NVIDIA A100-PCIE-40GB":          "A100",
		"Tesla T4":                       "T4",
		"NVIDIA T4G":                     "T4g",
		"Tesla V100-SXM2-32GB":           "V100-32GB",
		"Tesla V100-SXM2-16GB":           "V100",
		"NVIDIA L40S":                    "L40S",
		"NVIDIA L40":                     "L40",
		"NVIDIA L4":                      "L4",
		"NVIDIA A10G":                    "A10G",
		"NVIDIA A10":                     "A10",
		"NVIDIA H200":                    "H200",
		"NVIDIA GH200 480GB":             "GH200",
		"NVIDIA B200":                    "B200",
		"NVIDIA RTX A6000":               "A6000",
		"NVIDIA RTX 6000 Ada Generation": "RTX6000-Ada",
		"NVIDIA GeForce RTX 4090":        "RTX4090",
		"NVIDIA GeForce RTX 3070":        "RTX3070",
		"Tesla K80":                      "K80",
		"Something Else":                 "SOMETHING-ELSE",
	}
	for raw, want := range tests {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			if got := Normalize(raw); got != want {
				t.Errorf("Normalize(%q) = %q, want %q", raw, got, want)
			}
		})
	}
}

func TestParseFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    map[string]int
		wantErr bool
	}{
		{"H100:8", map[string]int{"H100": 8}, false},
		{"T4:1, L4:2", map[string]int{"T4": 1, "L4": 2}, false},
		{"H100", nil, true},
		{"H100:0", nil, true},
		{":3", nil, true},
		{"H100:x", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			gpus, err := ParseFake(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got := Count(gpus); !maps.Equal(got, tt.want) {
				t.Errorf("counts = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseCPUMax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"max 100000\n", 0, false},
		{"200000 100000\n", 2, true},
		{"150000 100000", 1.5, true},
		{"-1 100000", 0, false},
		{"garbage", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseCPUMax(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseCPUMax(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseMemTotal(t *testing.T) {
	t.Parallel()
	kb, err := parseMemTotalKB([]byte("MemFree: 1 kB\nMemTotal:       24508320 kB\n"))
	if err != nil || kb != 24508320 {
		t.Fatalf("got %d, %v", kb, err)
	}
	if _, err := parseMemTotalKB([]byte("nothing\n")); err == nil {
		t.Fatal("want an error without MemTotal")
	}
}

// TestDetectFake uses the knob, so it cannot run in parallel with other tests that read the environment.
func TestDetectFake(t *testing.T) {
	t.Setenv("STIX_FAKE_GPUS", "H100:8")
	r, err := Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Accelerators["H100"] != 8 || len(r.GPUs) != 8 {
		t.Errorf("accelerators = %v (%d devices), want H100:8", r.Accelerators, len(r.GPUs))
	}
	if r.CPUs < 1 || r.MemoryGB <= 0 {
		t.Errorf("cpus = %v, memory = %v GB; want positive", r.CPUs, r.MemoryGB)
	}
	t.Setenv("STIX_FAKE_GPUS", "bogus")
	if _, err := Detect(context.Background()); err == nil {
		t.Error("want an error for a malformed STIX_FAKE_GPUS")
	}
}

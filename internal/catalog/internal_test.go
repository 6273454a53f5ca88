package catalog

import (
	"reflect"
	"testing"
)

func TestParsePyLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"['AWS', 'Azure']", []any{"AWS", "Azure"}},
		{`{'a': 1, "b": [1.5, -2e3, True, None], 'c': (1,)}`, map[string]any{"a": 1.0, "b": []any{1.5, -2000.0, true, nil}, "c": []any{1.0}}},
		{"{}", map[string]any{}},
		{`'it\'s'`, "it's"},
	}
	for _, tc := range tests {
		got, err := parsePyLiteral(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parsePyLiteral(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "{'a' 1}", "[1,", "'open", "{'a': 1} x", "nope", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"} {
		if _, err := parsePyLiteral(bad); err == nil {
			t.Errorf("parsePyLiteral(%q): no error", bad)
		}
	}
}

func TestParseGpuInfo(t *testing.T) {
	gi, ok := parseGpuInfo("{'Gpus': [{'Name': 'A100', 'Manufacturer': 'NVIDIA', 'Count': 8, 'MemoryInfo': {'SizeInMiB': 40960}}], 'TotalGpuMemoryInMiB': 327680}")
	if !ok || gi.Name != "A100" || gi.Manufacturer != "NVIDIA" || gi.MemoryGiB != 40 {
		t.Errorf("aws GpuInfo = %+v, %v", gi, ok)
	}
	// GCP's cells lack names; RunPod's are bare names.
	if gi, ok := parseGpuInfo("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 16384}}]}"); !ok || gi.MemoryGiB != 16 {
		t.Errorf("gcp GpuInfo = %+v", gi)
	}
	if _, ok := parseGpuInfo("A100-80GB"); ok {
		t.Error("a bare name is not a dict")
	}
}

func TestEditDistanceAndClosest(t *testing.T) {
	if d := editDistance("A10O", "a100"); d != 1 {
		t.Errorf("distance = %d", d)
	}
	if got := closest("us-east-9", []string{"us-east-1", "us-east-2", "eu-west-1"}, 5); !reflect.DeepEqual(got, []string{"us-east-1", "us-east-2"}) {
		t.Errorf("closest = %v", got)
	}
}

func TestAzureDefaultFamily(t *testing.T) {
	for it, want := range map[string]bool{
		"Standard_D8s_v5": true, "Standard_E16s_v5": true, "Standard_F4s_v2": true, "Standard_D8as_v5": false,
		"Standard_D8_v4": false, "Standard_E16-4s_v5": false, "Basic_A1": false, "Standard_D2s_v5_Promo": true,
	} {
		if got := azureDefaultFamily(it); got != want {
			t.Errorf("azureDefaultFamily(%s) = %v, want %v", it, got, want)
		}
	}
}

package showgpus

import "testing"

func p(v float64) *float64 { return &v }

func TestCellFormats(t *testing.T) {
	t.Parallel()
	if price(nil) != "-" || price(p(32.7726)) != "$ 32.773" || gigabytes(0) != "-" || gigabytes(22.5) != "22GB" ||
		vcpus(0) != "-" || vcpus(96) != "96" || vcpus(0.5) != "0.5" || formatCount(0.25) != "0.25" {
		t.Error("cell formats differ from SkyPilot's")
	}
}

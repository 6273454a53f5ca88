package fingerprint

import (
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/lazyregexp"
)

// canonical lists SkyPilot's canonical GPU names, most specific first so that "L40S" wins over "L40" and "L4".
// Matching is on whole words of the device name (SkyPilot matches with word boundaries too). SkyPilot's list
// also has "H100-80GB"; stix leaves it out on purpose: every catalog sells the 80 GB H100 as "H100", and a node
// must report the name a task's `accelerators: H100:8` asks for.
var canonical = []string{
	"GB300", "GB200", "B300", "B200", "B100",
	"GH200", "H200", "H100-MEGA", "H100",
	"A100-80GB", "A100", "A10G", "A10", "A16", "A30", "A40",
	"RTX6000-Ada", "L40S", "L40", "L4",
	"A6000", "A5000", "A4000",
	"V100-32GB", "V100", "P100", "P40", "P4000", "P4", "T4g", "T4", "K80", "M60",
}

var wordSep = lazyregexp.New(`[\s_/-]+`)

// Normalize maps an nvidia-smi device name to SkyPilot's canonical accelerator name:
// "NVIDIA H100 80GB HBM3" → "H100", "NVIDIA A100-SXM4-80GB" → "A100-80GB", "Tesla T4" → "T4". A name that
// matches no canonical entry is upper-cased with the vendor words dropped ("NVIDIA GeForce RTX 4090" →
// "RTX4090"), which is how SkyPilot's GPU labeller names GPUs it does not know.
func Normalize(raw string) string {
	words := wordSep.Split(strings.ToUpper(strings.TrimSpace(raw)), -1)
	has := func(w string) bool { return slices.Contains(words, strings.ToUpper(w)) }
	for _, c := range canonical {
		parts := strings.Split(c, "-")
		ok := true
		for _, p := range parts {
			// "A100-80GB" is an A100 whose name mentions 80GB anywhere ("A100-SXM4-80GB", "A100 80GB PCIe");
			// "RTX6000-Ada" is "RTX 6000 Ada Generation".
			if p == "RTX6000" {
				if !(has("RTX6000") || has("RTX") && has("6000")) {
					ok = false
				}
				continue
			}
			if !has(p) {
				ok = false
			}
		}
		if ok {
			return c
		}
	}
	var kept []string
	for _, w := range words {
		if w == "NVIDIA" || w == "GEFORCE" || w == "TESLA" || w == "" {
			continue
		}
		kept = append(kept, w)
	}
	out := strings.Join(kept, "-")
	out = strings.Replace(out, "RTX-", "RTX", 1)
	if out == "" {
		return strings.ToUpper(strings.TrimSpace(raw))
	}
	return out
}

package catalog

import (
	"strings"

	"github.com/stix-run/stix/internal/cloud"
	"github.com/stix-run/stix/internal/lazyregexp"
)

// traits is what SkyPilot's per-cloud catalog and cloud modules know beyond the CSV: the default instance shape
// when a task asks for nothing, and the features a cloud lacks. Values are SkyPilot's (sky/catalog/*_catalog.py
// and sky/clouds/*.py); a cloud not listed gets zeroTraits: no default families, everything supported.
type traits struct {
	display string
	// defaultFamily reports whether an instance type belongs to the families a default (CPU-only) request picks
	// from; nil means any instance type.
	defaultFamily func(instanceType string) bool
	// defaultCPUs is used when a CPU-only request gives neither cpus nor memory; zero means no default.
	defaultCPUs cloud.Amount
	// defaultMemPerCPU (GiB per vCPU, at least) is used when a CPU-only request gives no memory; 0 means none.
	defaultMemPerCPU float64
	noMultiNode      bool
	noSpot           bool
	// zonalOnDemand: on-demand offers are per zone rather than per region (GCP prices and reserves by zone).
	zonalOnDemand bool
	// dedupeZones keeps one row per (instance type, region, zone), the one with the lowest spot price, as
	// SkyPilot does for AWS whose catalog repeats rows.
	dedupeZones bool
	// usFirst: among regions of equal price, US regions ("us-" names) are tried first, as SkyPilot's
	// get_region_zones_for_instance_type does for AWS, Lambda and Hyperbolic.
	usFirst bool
}

var cloudTraits = map[string]traits{
	"aws": {
		display:          "AWS",
		defaultFamily:    prefixes("m6i.", "m6id.", "m7i.", "r6i.", "r6id.", "r7i.", "c6i.", "c6id.", "c7i."),
		defaultCPUs:      cloud.Amount{Value: 8, OrMore: true},
		defaultMemPerCPU: 4,
		dedupeZones:      true,
		usFirst:          true,
	},
	"gcp": {
		display: "GCP",
		defaultFamily: prefixes("n2-standard-", "n2-highmem-", "n2-highcpu-", "n4-standard-", "n4-highcpu-",
			"n4-highmem-"),
		defaultCPUs:      cloud.Amount{Value: 8, OrMore: true},
		defaultMemPerCPU: 4,
		zonalOnDemand:    true,
	},
	"azure": {
		display:          "Azure",
		defaultFamily:    azureDefaultFamily,
		defaultCPUs:      cloud.Amount{Value: 8, OrMore: true},
		defaultMemPerCPU: 4,
	},
	"lambda": {
		display: "Lambda",
		// SkyPilot's Lambda default is sized after gpu_1x_a10: 30 vCPUs.
		defaultCPUs:      cloud.Amount{Value: 30, OrMore: true},
		defaultMemPerCPU: 4,
		noSpot:           true,
		usFirst:          true,
	},
	"cudo": {
		display:          "Cudo",
		defaultCPUs:      cloud.Amount{Value: 8, OrMore: true},
		defaultMemPerCPU: 2,
		noSpot:           true,
	},
	"runpod":     {display: "RunPod", noMultiNode: true},
	"hyperbolic": {display: "Hyperbolic", noMultiNode: true, noSpot: true, usFirst: true},
	"nebius":     {display: "Nebius"},
	// SkyPilot's Paperspace offers no spot machines; its default instance type is the cheapest that fits.
	"paperspace": {display: "Paperspace", noSpot: true},
	// SkyPilot's DO: no spot droplets; no default family (any size fits a CPU-only request).
	"do": {display: "DO", noSpot: true},
	// Clouds without catalog files here are listed for their display names only.
	"kubernetes": {display: "Kubernetes"},
	"ssh":        {display: "SSH"},
	"slurm":      {display: "Slurm"},
	"local":      {display: "Local"},
	"docker":     {display: "Docker"},
	"oci":        {display: "OCI"},
	"ibm":        {display: "IBM"},
	"scp":        {display: "SCP"},
	"vast":       {display: "Vast"},
	"fluidstack": {display: "Fluidstack"},
}

// traitsFor returns a cloud's traits; unknown clouds get a display name from their directory.
func traitsFor(name string) traits {
	if t, ok := cloudTraits[name]; ok {
		return t
	}
	return traits{display: name}
}

func prefixes(ps ...string) func(string) bool {
	return func(it string) bool {
		for _, p := range ps {
			if strings.HasPrefix(it, p) {
				return true
			}
		}
		return false
	}
}

var (
	azureDashed = lazyregexp.New(`^([A-Za-z]+)([0-9]+)-([0-9]+)(.*)$`)
	azurePlain  = lazyregexp.New(`^([A-Za-z]+)([0-9]+)(.*)$`)
)

// azureDefaultFamily reports whether an Azure instance type is in SkyPilot's default families Ds_v5, Es_v5 and
// Fs_v2. The family is the type without "Standard_", the "_Promo" suffix and the size digits:
// Standard_D8s_v5 -> Ds_v5, Standard_E16-4s_v5 -> E_s_v5.
func azureDefaultFamily(it string) bool {
	rest, ok := strings.CutPrefix(it, "Standard_")
	if !ok {
		return false
	}
	rest = strings.TrimSuffix(rest, "_Promo")
	var family string
	if m := azureDashed.FindStringSubmatch(rest); m != nil {
		family = m[1] + "_" + m[4]
	} else if m := azurePlain.FindStringSubmatch(rest); m != nil {
		family = m[1] + m[3]
	}
	switch family {
	case "Ds_v5", "Es_v5", "Fs_v2":
		return true
	}
	return false
}

// DisplayName is how SkyPilot writes a cloud's name in tables ("AWS", "GCP", "RunPod"); unknown names are
// returned as given.
func DisplayName(cloudName string) string {
	return traitsFor(strings.ToLower(cloudName)).display
}

// PlaceName writes where something runs as SkyPilot's INFRA columns do: "AWS (us-east-1a)" with the zone when
// there is one, else the region; just "Local" when the place says no more than the cloud. A zone that does not
// name its region (AWS's zone IDs, "aps1-az3") follows the region: "AWS (ap-south-1, aps1-az3)".
func PlaceName(cloudName, region, zone string) string {
	s := DisplayName(cloudName)
	where := zone
	switch {
	case zone == "":
		where = region
	case region != "" && !strings.HasPrefix(zone, region):
		where = region + ", " + zone
	}
	if where == "" || strings.EqualFold(where, cloudName) {
		return s
	}
	return s + " (" + where + ")"
}

// CompareRegions orders two regions of cloudName (any case) as SkyPilot tries regions of equal price: on the
// clouds whose catalogs put US regions first (AWS, Lambda, Hyperbolic), a "us-" region before any other; then
// by name. It returns -1, 0 or +1 as cmp.Compare does.
func CompareRegions(cloudName, a, b string) int {
	if traitsFor(strings.ToLower(cloudName)).usFirst {
		if ua, ub := strings.HasPrefix(a, "us-"), strings.HasPrefix(b, "us-"); ua != ub {
			if ua {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a, b)
}

package optimizer

import "strings"

// Egress estimates follow SkyPilot's per-cloud get_egress_cost (internet egress list prices; the pricing
// tiers really depend on a month's cumulative usage, which nobody knows at planning time). Moving data within
// one cloud is free; clouds SkyPilot does not charge for (Lambda, RunPod, Cudo, Nebius, Hyperbolic, the user's
// own infra...) cost nothing.

const (
	tib = 1024.0
	// egressGbps is the bandwidth SkyPilot assumes between clouds for time estimates.
	egressGbps = 10.0
)

// egressPrices maps a source cloud to its cost of sending gb gigabytes out.
var egressPrices = map[string]func(gb float64) float64{
	"aws":   func(gb float64) float64 { return tieredEgress(gb, 0.085, 0.09) },
	"azure": func(gb float64) float64 { return tieredEgress(gb, 0.083, 0.0875) },
	"gcp": func(gb float64) float64 {
		switch {
		case gb <= tib:
			return 0.12 * gb
		case gb <= 10*tib:
			return 0.11 * gb
		default:
			return 0.08 * gb
		}
	},
}

// tieredEgress is AWS's and Azure's schedule: above 150 TiB everything at 0.05/GB; otherwise 0.07/GB above
// 50 TiB, tier10to50/GB between 10 and 50 TiB, and firstTier/GB for the rest beyond the first free GB.
func tieredEgress(gb, tier10to50, firstTier float64) float64 {
	if gb > 150*tib {
		return 0.05 * gb
	}
	cost := 0.0
	if gb >= 50*tib {
		cost += (gb - 50*tib) * 0.07
		gb = 50 * tib
	}
	if gb >= 10*tib {
		cost += (gb - 10*tib) * tier10to50
		gb = 10 * tib
	}
	if gb > 1 {
		cost += (gb - 1) * firstTier
	}
	return cost
}

func sameCloud(a, b string) bool { return strings.EqualFold(a, b) }

// EgressCost estimates the USD cost of moving gb gigabytes from cloud src to cloud dst.
func EgressCost(src, dst string, gb float64) float64 {
	if gb <= 0 || src == "" || dst == "" || sameCloud(src, dst) {
		return 0
	}
	if f, ok := egressPrices[strings.ToLower(src)]; ok {
		return f(gb)
	}
	return 0
}

// EgressSeconds estimates the time to move gb gigabytes from cloud src to cloud dst (10 Gbps between clouds).
func EgressSeconds(src, dst string, gb float64) float64 {
	if gb <= 0 || src == "" || dst == "" || sameCloud(src, dst) {
		return 0
	}
	return gb * 8 / egressGbps
}

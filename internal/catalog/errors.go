package catalog

import (
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/cloud"
)

// NoFitError says why nothing in a cloud's catalog fits a request. It unwraps to a *cloud.InfeasibleError, so
// the failover loop treats it as ruling out the cloud.
type NoFitError struct {
	Cloud   string
	Reasons []string
	// Suggestions are what the user may have meant: accelerators as "NAME:COUNT" (SkyPilot's "Did you mean"),
	// or instance types.
	Suggestions []string
	// Hints are sentences on how to relax the request (add "+" to cpus or memory).
	Hints []string
}

func (e *NoFitError) Error() string {
	s := strings.Join(e.Reasons, "; ")
	if len(e.Suggestions) > 0 {
		s += fmt.Sprintf("; did you mean: %s?", strings.Join(e.Suggestions, ", "))
	}
	for _, h := range e.Hints {
		s += "; " + h
	}
	return s
}

// Unwrap exposes the error as the provider contract's infeasibility.
func (e *NoFitError) Unwrap() error {
	return &cloud.InfeasibleError{Cloud: e.Cloud, Reasons: e.Reasons}
}

// DidYouMean returns the suggestions (for the optimizer's explanation).
func (e *NoFitError) DidYouMean() []string { return e.Suggestions }

// FixHints returns the hints (for the optimizer's explanation).
func (e *NoFitError) FixHints() []string { return e.Hints }

// LocationError is a region or zone the cloud's catalog does not have.
type LocationError struct {
	Cloud  string // display name
	Region string
	Zone   string
	// Suggestions are close names; Known lists every valid name when there are no close ones.
	Suggestions []string
	Known       []string
	// NoZones is set when the cloud has no zones at all.
	NoZones bool
}

func (e *LocationError) Error() string {
	if e.NoZones {
		return fmt.Sprintf("%s does not support zones (asked for zone %q); give a region only", e.Cloud, e.Zone)
	}
	var s string
	if e.Zone != "" {
		s = fmt.Sprintf("invalid zone %q for %s", e.Zone, e.Cloud)
		if e.Region != "" {
			s += fmt.Sprintf(" region %s", e.Region)
		}
	} else {
		s = fmt.Sprintf("invalid region %q for %s", e.Region, e.Cloud)
	}
	switch {
	case len(e.Suggestions) > 0:
		s += fmt.Sprintf("; did you mean one of these: %s?", strings.Join(e.Suggestions, ", "))
	case len(e.Known) > 0:
		what := "regions"
		if e.Zone != "" {
			what = "zones"
		}
		s += fmt.Sprintf("; %s %s are: %s", e.Cloud, what, strings.Join(e.Known, ", "))
	}
	return s
}

// ValidateLocation checks a region and zone against the catalog as SkyPilot does: regions match
// case-insensitively, zones exactly, and a zone must lie in the region when both are given. It returns the
// catalog's spelling of the region (derived from the zone when only a zone is given).
func (c *Cloud) ValidateLocation(region, zone string) (string, error) {
	loc, err := c.validateLocation(region, zone)
	return loc.region, err
}

func (c *Cloud) validateLocation(region, zone string) (place, error) {
	p := place{regionID: -1, zoneID: -1}
	if region != "" {
		canon, ok := c.regions[strings.ToLower(region)]
		if !ok {
			e := &LocationError{Cloud: c.traits.display, Region: region, Suggestions: closest(region, c.regionList, 5)}
			if len(e.Suggestions) == 0 {
				e.Known = c.Regions()
			}
			return place{}, e
		}
		p.region, p.regionID = canon, c.regionIDs[canon]
	}
	if zone != "" {
		if !c.zones {
			return place{}, &LocationError{Cloud: c.traits.display, Zone: zone, NoZones: true}
		}
		zr, ok := c.zoneRegion[zone]
		if !ok || (p.region != "" && zr != p.region) {
			candidates := c.zoneNames(p.region)
			e := &LocationError{Cloud: c.traits.display, Region: p.region, Zone: zone, Suggestions: closest(zone, candidates, 5)}
			if len(e.Suggestions) == 0 {
				e.Known = candidates
			}
			return place{}, e
		}
		p.region, p.zone = zr, zone
		p.regionID, p.zoneID = c.regionIDs[zr], c.zoneIDs[zone]
	}
	return p, nil
}

// zoneNames lists the zones of a region, or of the whole cloud when region is empty.
func (c *Cloud) zoneNames(region string) []string {
	if region != "" {
		return c.Zones(region)
	}
	return sortedKeys(c.zoneRegion)
}

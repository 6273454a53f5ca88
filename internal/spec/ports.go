package spec

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of TCP ports; a single port has From == To.
type PortRange struct {
	From, To int
}

// String renders "8080" or "8000-8010".
func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// Ports is a set of ports to open, kept sorted with overlapping and adjacent ranges merged.
type Ports []PortRange

// String renders the ports as a comma-separated list.
func (p Ports) String() string {
	s := make([]string, len(p))
	for i, r := range p {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

// MarshalJSON encodes the ports as a list of strings, as SkyPilot stores them.
func (p Ports) MarshalJSON() ([]byte, error) {
	s := make([]string, len(p))
	for i, r := range p {
		s[i] = r.String()
	}
	return json.Marshal(s)
}

// Contains reports whether port is in the set.
func (p Ports) Contains(port int) bool {
	for _, r := range p {
		if port >= r.From && port <= r.To {
			return true
		}
	}
	return false
}

// ParsePorts parses ports given as "8080" or "8000-8010" (each 1..65535) and returns them merged and sorted.
func ParsePorts(specs ...string) (Ports, error) {
	var out Ports
	for _, spec := range specs {
		r, err := parsePortRange(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out.simplify(), nil
}

func parsePortRange(spec string) (PortRange, error) {
	s := strings.TrimSpace(spec)
	from, to, isRange := strings.Cut(s, "-")
	a, err := parsePort(from)
	if err != nil {
		return PortRange{}, fmt.Errorf("invalid port %q: %w", spec, err)
	}
	b := a
	if isRange {
		if b, err = parsePort(to); err != nil {
			return PortRange{}, fmt.Errorf("invalid port range %q: %w", spec, err)
		}
		if b < a {
			return PortRange{}, fmt.Errorf("invalid port range %q: the end is below the start", spec)
		}
	}
	return PortRange{From: a, To: b}, nil
}

func parsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("expected a number or a range such as 8000-8010")
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("ports are 1 to 65535, found %d", n)
	}
	return n, nil
}

// simplify sorts the ranges and merges overlapping and adjacent ones.
func (p Ports) simplify() Ports {
	if len(p) == 0 {
		return nil
	}
	sorted := append(Ports(nil), p...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].From < sorted[j].From })
	out := Ports{sorted[0]}
	for _, r := range sorted[1:] {
		last := &out[len(out)-1]
		if r.From <= last.To+1 {
			last.To = max(last.To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

// List returns every port of the set, in order.
func (p Ports) List() []int {
	var out []int
	for _, r := range p {
		for n := r.From; n <= r.To; n++ {
			out = append(out, n)
		}
	}
	return out
}

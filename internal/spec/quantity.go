package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Quantity is a cpus or memory request: exactly Value, or at least Value when OrMore ("4+"). For memory, Value is
// in GiB (SkyPilot's GB are binary), and PerCPU ("8x") means Value GiB per vCPU of the chosen instance.
type Quantity struct {
	Value  float64
	OrMore bool
	PerCPU bool
}

// String renders the quantity in task-YAML form: "4", "4.5", "4+", "8x".
func (q Quantity) String() string {
	s := fmtNumber(q.Value)
	if q.PerCPU {
		s += "x"
	}
	if q.OrMore {
		s += "+"
	}
	return s
}

// MarshalJSON encodes the quantity as its YAML string.
func (q Quantity) MarshalJSON() ([]byte, error) { return json.Marshal(q.String()) }

// Satisfies reports whether an offering of have meets the request.
func (q Quantity) Satisfies(have float64) bool {
	if q.OrMore {
		return have >= q.Value
	}
	return have == q.Value
}

// ParseQuantity parses a cpus value: a positive number, optionally followed by "+" for "at least".
func ParseQuantity(s string) (Quantity, error) {
	t := strings.TrimSpace(s)
	q := Quantity{}
	if strings.HasSuffix(t, "+") {
		q.OrMore = true
		t = t[:len(t)-1]
	}
	f, err := parsePositive(t)
	if err != nil {
		return Quantity{}, fmt.Errorf("expected a number or \"<number>+\" (e.g. 4, 4.5, \"4+\"), found %q", s)
	}
	q.Value = f
	return q, nil
}

// ParseMemory parses a memory value: a positive size in GiB or with units (512MB, 16GiB, 1TB), optionally
// followed by "x" (GiB per vCPU) and/or "+" (at least), as in "32+", "64GB+", "4x".
func ParseMemory(s string) (Quantity, error) {
	t := strings.TrimSpace(s)
	q := Quantity{}
	// SkyPilot strips a trailing "+" first and then a trailing "x": "4x+" is valid, "4+x" is not.
	if strings.HasSuffix(t, "+") {
		q.OrMore = true
		t = t[:len(t)-1]
	}
	if strings.HasSuffix(t, "x") {
		q.PerCPU = true
		t = t[:len(t)-1]
	}
	gb, err := parseSizeGB(t)
	if err != nil || gb <= 0 {
		return Quantity{}, fmt.Errorf("expected a size in GB such as 16, \"16+\", \"512MB\", \"1TB\" or \"4x\" (GB per vCPU), found %q", s)
	}
	q.Value = gb
	return q, nil
}

// ParseDiskSize parses a disk size: whole GiB, as an integer or with units ("100", "1TB", "512GiB").
func ParseDiskSize(s string) (int, error) {
	gb, err := parseSizeGB(strings.TrimSpace(s))
	if err != nil || gb <= 0 {
		return 0, fmt.Errorf("expected a size in GB such as 256, \"512GB\" or \"1TB\", found %q", s)
	}
	if gb != math.Trunc(gb) || gb > math.MaxInt32 {
		return 0, fmt.Errorf("must be a whole number of GB, found %q (%s GB)", s, fmtNumber(gb))
	}
	return int(gb), nil
}

// sizeUnits maps a unit (lower case) to its size in GiB. All units are binary, as SkyPilot's are.
var sizeUnits = map[string]float64{
	"k": 1.0 / (1 << 20), "kb": 1.0 / (1 << 20), "ki": 1.0 / (1 << 20), "kib": 1.0 / (1 << 20),
	"m": 1.0 / 1024, "mb": 1.0 / 1024, "mi": 1.0 / 1024, "mib": 1.0 / 1024,
	"g": 1, "gb": 1, "gi": 1, "gib": 1,
	"t": 1024, "tb": 1024, "ti": 1024, "tib": 1024,
	"p": 1 << 20, "pb": 1 << 20, "pi": 1 << 20, "pib": 1 << 20,
}

// parseSizeGB parses a number of GiB, plain or with a unit suffix.
func parseSizeGB(s string) (float64, error) {
	i := len(s)
	for i > 0 && (s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] >= 'A' && s[i-1] <= 'Z') {
		i--
	}
	num, unit := strings.TrimSpace(s[:i]), strings.ToLower(s[i:])
	mult := 1.0
	if unit != "" {
		m, ok := sizeUnits[unit]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q", s[i:])
		}
		mult = m
	}
	f, err := parseFinite(num)
	if err != nil {
		return 0, err
	}
	return f * mult, nil
}

// parsePositive parses a finite number greater than zero.
func parsePositive(s string) (float64, error) {
	f, err := parseFinite(s)
	if err != nil {
		return 0, err
	}
	if f <= 0 {
		return 0, fmt.Errorf("not positive")
	}
	return f, nil
}

// parseFinite parses a plain decimal number (no hex, no exponents beyond what strconv takes, no inf/nan).
func parseFinite(s string) (float64, error) {
	if s == "" || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("not a number")
	}
	return f, nil
}

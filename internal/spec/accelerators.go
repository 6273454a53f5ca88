package spec

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/lazyregexp"
)

// AcceleratorsKind says how the options of an Accelerators relate.
type AcceleratorsKind int

const (
	// AnyOf: any one option will do (a single accelerator, or a set such as {A100:1, T4:1}); the optimizer picks
	// the cheapest.
	AnyOf AcceleratorsKind = iota
	// Ordered: options in order of preference (a YAML list such as [A100:1, V100:1]).
	Ordered
)

// Accelerator is one accelerator request: Count devices of Name per node. When chosen by memory ("80GB+",
// "nvidia:24GB:2") Name is empty and Memory (GiB per device) and maybe Manufacturer are set; the optimizer expands
// it to the catalog's matching devices.
type Accelerator struct {
	Name         string    `json:"name,omitempty"`
	Count        float64   `json:"count"` // may be fractional (0.5) to share a GPU
	Memory       *Quantity `json:"memory,omitempty"`
	Manufacturer string    `json:"manufacturer,omitempty"`
}

// String renders "A100:8", "V100:0.5" or "nvidia:80GB+:8". Names are kept as written; the catalog matches them
// case-insensitively.
func (a Accelerator) String() string {
	name := a.Name
	if a.Memory != nil {
		name = fmtNumber(a.Memory.Value) + "GB"
		if a.Memory.OrMore {
			name += "+"
		}
		if a.Manufacturer != "" {
			name = a.Manufacturer + ":" + name
		}
	}
	return name + ":" + fmtNumber(a.Count)
}

// Accelerators is the accelerators a task's node needs: one option, or several (any of them, or in order).
type Accelerators struct {
	Kind    AcceleratorsKind
	Options []Accelerator
}

// String renders one option as "A100:8", a set as "{A100:1, T4:1}" and a preference list as "[A100:1, T4:1]".
func (a *Accelerators) String() string {
	if a == nil || len(a.Options) == 0 {
		return ""
	}
	if len(a.Options) == 1 {
		return a.Options[0].String()
	}
	s := make([]string, len(a.Options))
	for i, o := range a.Options {
		s[i] = o.String()
	}
	if a.Kind == Ordered {
		return "[" + strings.Join(s, ", ") + "]"
	}
	return "{" + strings.Join(s, ", ") + "}"
}

// MarshalJSON encodes one option as its string and several as a list (ordered) or a mapping to null (any of),
// the shapes the YAML takes.
func (a *Accelerators) MarshalJSON() ([]byte, error) {
	if a == nil || len(a.Options) == 0 {
		return []byte("null"), nil
	}
	if len(a.Options) == 1 {
		return json.Marshal(a.Options[0].String())
	}
	s := make([]string, len(a.Options))
	for i, o := range a.Options {
		s[i] = o.String()
	}
	if a.Kind == Ordered {
		return json.Marshal(s)
	}
	m := make(map[string]any, len(s))
	for _, k := range s {
		m[k] = nil
	}
	return json.Marshal(m)
}

// add appends an option unless an equal one is already there (SkyPilot de-duplicates the same way).
func (a *Accelerators) add(o Accelerator) {
	for _, have := range a.Options {
		if have.String() == o.String() {
			return
		}
	}
	a.Options = append(a.Options, o)
}

// ParseAccelerators parses one accelerator request as --gpus takes it: "A100", "A100:8", "V100:0.5", "a10g",
// "tpu-v2-8", or by memory "80GB+", "nvidia:24GB:2".
func ParseAccelerators(s string) (*Accelerators, error) {
	a, err := ParseAccelerator(s)
	if err != nil {
		return nil, err
	}
	return &Accelerators{Kind: AnyOf, Options: []Accelerator{a}}, nil
}

// gpuMemoryRe matches a GPU memory size in an accelerator string: "80GB", "24gb+".
var gpuMemoryRe = lazyregexp.New(`^[0-9]+[GgMmTt][Bb]\+?$`)

// ParseAccelerator parses one accelerator string; see ParseAccelerators.
func ParseAccelerator(s string) (Accelerator, error) {
	t := strings.TrimSpace(s)
	parts := strings.Split(t, ":")
	var a Accelerator
	var count string
	switch {
	case len(parts) == 3:
		a.Manufacturer, count = parts[0], parts[2]
		if !gpuMemoryRe.MatchString(parts[1]) {
			return Accelerator{}, fmt.Errorf("invalid accelerator %q: expected <name>, <name>:<count> or <manufacturer>:<memory>:<count> (e.g. nvidia:80GB:8)", s)
		}
		a.Memory = gpuMemory(parts[1])
	case len(parts) == 2 && gpuMemoryRe.MatchString(parts[0]):
		a.Memory, count = gpuMemory(parts[0]), parts[1]
	case len(parts) == 2 && gpuMemoryRe.MatchString(parts[1]):
		a.Manufacturer, a.Memory = parts[0], gpuMemory(parts[1])
	case len(parts) == 2:
		a.Name, count = parts[0], parts[1]
	case len(parts) == 1 && gpuMemoryRe.MatchString(parts[0]):
		a.Memory = gpuMemory(parts[0])
	case len(parts) == 1:
		a.Name = parts[0]
	default:
		return Accelerator{}, fmt.Errorf("invalid accelerator %q: expected <name> or <name>:<count> (e.g. A100:8)", s)
	}
	if a.Memory == nil && !validAcceleratorName(a.Name) {
		return Accelerator{}, fmt.Errorf("invalid accelerator name %q in %q: expected e.g. A100, a10g or tpu-v2-8", a.Name, s)
	}
	if a.Manufacturer != "" && !validAcceleratorName(a.Manufacturer) {
		return Accelerator{}, fmt.Errorf("invalid manufacturer %q in %q", a.Manufacturer, s)
	}
	a.Count = 1
	if count != "" {
		n, err := parseFinite(strings.TrimSpace(count))
		if err != nil {
			return Accelerator{}, fmt.Errorf("invalid accelerator count in %q: expected a number such as 1, 8 or 0.5", s)
		}
		if n <= 0 {
			return Accelerator{}, fmt.Errorf("invalid accelerator count in %q: must be positive, found %s", s, fmtNumber(n))
		}
		a.Count = n
	}
	return a, nil
}

func validAcceleratorName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c == ',' || c == '{' || c == '}' || c == '[' || c == ']' || c == '"' || c == '\'' {
			return false
		}
	}
	return true
}

// gpuMemory converts a matched memory size ("80GB", "24gb+") to a GiB quantity.
func gpuMemory(s string) *Quantity {
	q := Quantity{}
	if strings.HasSuffix(s, "+") {
		q.OrMore = true
		s = s[:len(s)-1]
	}
	q.Value, _ = parseSizeGB(s)
	return &q
}

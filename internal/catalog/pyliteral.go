package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// parsePyLiteral parses the Python literals SkyPilot writes into catalog cells with repr(): dicts, lists,
// tuples, quoted strings, numbers, True/False/None. Dicts become map[string]any (keys are strings in every
// catalog), lists and tuples []any, numbers float64, None nil.
func parsePyLiteral(s string) (any, error) {
	p := &pyParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at offset %d", clip(p.s[p.i:]), p.i)
	}
	return v, nil
}

type pyParser struct {
	s     string
	i     int
	depth int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *pyParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end of literal")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.dict()
	case c == '[':
		return p.list('[', ']')
	case c == '(':
		return p.list('(', ')')
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, kw := range []struct {
			word string
			val  any
		}{{"True", true}, {"False", false}, {"None", nil}, {"nan", nil}} {
			if strings.HasPrefix(p.s[p.i:], kw.word) {
				p.i += len(kw.word)
				return kw.val, nil
			}
		}
		return nil, fmt.Errorf("unexpected %q at offset %d", clip(p.s[p.i:]), p.i)
	}
}

// enter guards against pathological nesting in a corrupted file.
func (p *pyParser) enter() error {
	p.depth++
	if p.depth > 32 {
		return fmt.Errorf("literal nested too deeply")
	}
	return nil
}

func (p *pyParser) dict() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // {
	m := map[string]any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return m, nil
		}
		k, err := p.value()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, fmt.Errorf("expected ':' at offset %d", p.i)
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[fmt.Sprint(k)] = v
		if err := p.separator('}'); err != nil {
			return nil, err
		}
	}
}

func (p *pyParser) list(open, closing byte) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++ // open
	out := []any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == closing {
			p.i++
			return out, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if err := p.separator(closing); err != nil {
			return nil, err
		}
	}
}

// separator consumes a ',' or leaves the closing bracket for the caller.
func (p *pyParser) separator(closing byte) error {
	p.space()
	if p.i >= len(p.s) {
		return fmt.Errorf("unexpected end of literal, expected %q", closing)
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return nil
	case closing:
		return nil
	}
	return fmt.Errorf("expected ',' or %q at offset %d", closing, p.i)
}

func (p *pyParser) str() (any, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
		p.i++
	}
	return nil, fmt.Errorf("unterminated string")
}

func (p *pyParser) number() (any, error) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		return nil, fmt.Errorf("invalid number %q", p.s[start:p.i])
	}
	return f, nil
}

// gpuInfo is what stix uses of a GpuInfo cell.
type gpuInfo struct {
	Name         string
	Manufacturer string
	MemoryGiB    float64 // per device; 0 when the cell does not say
}

// parseGpuInfo reads a GpuInfo cell. Some catalogs (RunPod) hold a bare name instead of a dict, and GCP's
// dicts lack names; whatever is missing is left zero. ok is false when the cell is not a Python dict at all.
func parseGpuInfo(s string) (gi gpuInfo, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return gpuInfo{}, false
	}
	v, err := parsePyLiteral(s)
	if err != nil {
		return gpuInfo{}, false
	}
	m, _ := v.(map[string]any)
	gpus, _ := m["Gpus"].([]any)
	if len(gpus) == 0 {
		return gpuInfo{}, true
	}
	g, _ := gpus[0].(map[string]any)
	gi.Name, _ = g["Name"].(string)
	gi.Manufacturer, _ = g["Manufacturer"].(string)
	if mem, ok := g["MemoryInfo"].(map[string]any); ok {
		if mib, ok := mem["SizeInMiB"].(float64); ok {
			gi.MemoryGiB = mib / 1024
		}
	}
	return gi, true
}

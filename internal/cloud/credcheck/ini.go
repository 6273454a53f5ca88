package credcheck

import (
	"strings"
)

// INI is a parsed INI-style file: AWS's credentials and config, gcloud's configurations, Lambda's
// lambda_keys and the flat `key = "value"` subset of TOML that RunPod's config.toml uses. Keys before any
// section live in section "". Section names are kept as written (AWS's "profile dev"); keys are lower-cased,
// since every tool reading these files treats them case-insensitively.
type INI struct {
	sections map[string]map[string]string
	order    []string // section names in file order, "" first when it has keys
}

// ParseINI reads data leniently: blank lines, `#` and `;` comments, `[section]` headers and `key = value`
// lines. Indented lines continue the previous key (AWS's nested `s3 =` blocks) and are ignored, as are lines
// that are none of these. Matching double or single quotes around a value are removed (TOML strings).
// It never fails: a credential check reports what it finds, and a line it cannot read does not hide the rest.
func ParseINI(data string) *INI {
	f := &INI{sections: map[string]map[string]string{}}
	section := ""
	for _, raw := range strings.Split(strings.TrimPrefix(data, "\ufeff"), "\n") {
		line := strings.TrimRight(raw, "\r")
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if end := strings.IndexByte(line, ']'); end > 0 {
				section = strings.TrimSpace(line[1:end])
				f.section(section)
			}
			continue
		}
		i := strings.IndexByte(line, '=')
		if i <= 0 {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		f.section(section)[key] = unquote(strings.TrimSpace(line[i+1:]))
	}
	return f
}

// section returns the named section's keys, creating it.
func (f *INI) section(name string) map[string]string {
	s, ok := f.sections[name]
	if !ok {
		s = map[string]string{}
		f.sections[name] = s
		f.order = append(f.order, name)
	}
	return s
}

// Get returns a key of a section ("" when either is absent).
func (f *INI) Get(section, key string) string {
	return f.sections[section][key]
}

// Has reports whether a section exists.
func (f *INI) Has(section string) bool {
	_, ok := f.sections[section]
	return ok
}

// unquote strips one pair of matching quotes and, for unquoted values, a trailing ` #` comment (TOML).
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			return v[1 : end+1]
		}
		return v
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

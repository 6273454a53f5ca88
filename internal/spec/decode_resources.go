package spec

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// rfield is one resources key with the path it was written at; a candidate mixes fields from the top level and
// from its any_of/ordered entry.
type rfield struct {
	key       string
	line, col int
	val       *value
	path      string
}

func fieldsOf(v *value, prefix string, skip ...string) []rfield {
	var out []rfield
	for _, f := range v.fields {
		if slices.Contains(skip, f.key) {
			continue
		}
		out = append(out, rfield{key: f.key, line: f.keyLine, col: f.keyCol, val: f.val, path: joinPath(prefix, f.key)})
	}
	return out
}

// resourceAliases maps the alternative spellings of resources keys to their canonical key.
var resourceAliases = map[string]string{"gpus": "accelerators", "spot_recovery": "job_recovery"}

func canonicalResourceKey(k string) string {
	if c, ok := resourceAliases[k]; ok {
		return c
	}
	return k
}

// merge lays an any_of/ordered entry over the top-level fields: a key in the entry replaces the top-level one
// (its alias included), except labels, which are merged.
func merge(base, entry []rfield) []rfield {
	out := make([]rfield, 0, len(base)+len(entry))
	for _, b := range base {
		overridden := false
		for _, e := range entry {
			if b.key != "labels" && canonicalResourceKey(e.key) == canonicalResourceKey(b.key) {
				overridden = true
				break
			}
		}
		if !overridden {
			out = append(out, b)
		}
	}
	return append(out, entry...)
}

// resources decodes a task's resources mapping (nil or null means no requirements).
func (d *decoder) resources(v *value, path string) *Resources {
	if v == nil || v.kind != kindMap {
		return &Resources{}
	}
	base := fieldsOf(v, path, "any_of", "ordered", "candidates")
	r := d.resourceFields(base)

	anyOf, ordered, legacy := v.field("any_of"), v.field("ordered"), v.field("candidates")
	if legacy != nil {
		if anyOf != nil {
			d.keyErr(legacy.keyLine, legacy.keyCol, joinPath(path, "candidates"), "cannot give both candidates and any_of", "candidates is the old name of any_of; keep one")
		} else {
			d.deprecated(legacy.keyLine, legacy.keyCol, joinPath(path, "candidates"), "candidates is deprecated; use any_of")
			anyOf = legacy
		}
	}
	if anyOf != nil && ordered != nil {
		d.keyErr(ordered.keyLine, ordered.keyCol, joinPath(path, "ordered"), "cannot give both any_of and ordered", "keep one of them")
		return r
	}
	if acc := r.Accelerators; acc != nil && len(acc.Options) > 1 {
		if ordered != nil {
			d.keyErr(ordered.keyLine, ordered.keyCol, joinPath(path, "ordered"), "cannot give several accelerators together with ordered", "move each accelerator into its own ordered entry")
			return r
		}
		if anyOf != nil && acc.Kind == Ordered {
			d.keyErr(anyOf.keyLine, anyOf.keyCol, joinPath(path, anyOf.key), "cannot give an ordered accelerators list together with any_of", "use a set ({A100: 1, T4: 1}) or move each accelerator into its own entry")
			return r
		}
	}
	for _, list := range []*field{anyOf, ordered} {
		if list == nil || list.val.kind != kindList {
			continue
		}
		lpath := joinPath(path, list.key)
		for i, entry := range list.val.items {
			if entry.kind != kindMap {
				continue
			}
			c := d.resourceFields(merge(base, fieldsOf(entry, indexPath(lpath, i))))
			if list == ordered {
				r.Ordered = append(r.Ordered, c)
			} else {
				r.AnyOf = append(r.AnyOf, c)
			}
		}
	}
	return r
}

// resourceFields decodes one set of resources keys into a Resources.
func (d *decoder) resourceFields(fields []rfield) *Resources {
	r := &Resources{}
	var infra *rfield
	var legacy []rfield // cloud, region, zone
	seen := map[string]rfield{}
	for _, f := range fields {
		canon := canonicalResourceKey(f.key)
		if prev, dup := seen[canon]; dup && canon != "labels" {
			d.keyErr(f.line, f.col, f.path, fmt.Sprintf("cannot give both %s and %s", prev.key, f.key), fmt.Sprintf("%s is another name for %s; keep one", aliasOf(prev.key, f.key), canon))
			continue
		}
		seen[canon] = f
		v := f.val
		switch f.key {
		case "infra":
			if s, ok := v.str(); ok {
				inf, err := ParseInfra(s)
				if err != nil {
					d.valueErr(v, f.path, err)
				}
				r.Infra = inf
				infra = &f
			}
		case "cloud", "region", "zone":
			legacy = append(legacy, f)
		case "accelerators", "gpus":
			r.Accelerators = d.accelerators(v, f.path)
		case "accelerator_args":
			if v.kind == kindMap {
				r.AcceleratorArgs, _ = v.toAny().(map[string]any)
			}
		case "cpus":
			if v.kind == kindString || v.kind == kindInt || v.kind == kindFloat {
				q, err := ParseQuantity(v.pyString())
				if err != nil {
					d.valueErr(v, f.path, err)
				} else {
					r.CPUs = &q
				}
			}
		case "memory":
			if v.kind == kindString || v.kind == kindInt || v.kind == kindFloat {
				q, err := ParseMemory(v.pyString())
				if err != nil {
					d.valueErr(v, f.path, err)
				} else {
					r.Memory = &q
				}
			}
		case "instance_type":
			if s, ok := v.str(); ok {
				r.InstanceType = strings.TrimSpace(s)
			}
		case "use_spot":
			if v.kind == kindBool {
				b := v.b
				r.UseSpot = &b
			}
		case "job_recovery", "spot_recovery":
			if f.key == "spot_recovery" {
				d.deprecated(f.line, f.col, f.path, "spot_recovery is deprecated; use job_recovery")
			}
			r.JobRecovery = d.jobRecovery(v, f.path)
		case "disk_size":
			r.DiskSizeGB = d.diskSize(v, f.path)
		case "disk_tier":
			if s, ok := v.str(); ok {
				t, err := validTier(s, DiskTiers, "disk_tier")
				d.checkValue(v, f.path, err)
				r.DiskTier = t
			}
		case "network_tier":
			if s, ok := v.str(); ok {
				t, err := validTier(s, NetworkTiers, "network_tier")
				d.checkValue(v, f.path, err)
				r.NetworkTier = t
			}
		case "ports":
			r.Ports = d.ports(v, f.path)
		case "image_id":
			r.ImageID = d.imageID(v, f.path)
		case "labels":
			if v.kind == kindMap {
				if r.Labels == nil {
					r.Labels = map[string]string{}
				}
				for _, lf := range v.fields {
					if s, ok := lf.val.str(); ok {
						r.Labels[lf.key] = s
					}
				}
			}
		case "autostop":
			r.Autostop = d.autostop(v, f.path)
		case "priority":
			if n, ok := v.integer(); ok {
				p := int(n)
				r.Priority = &p
			}
		case "volumes":
			if vols, ok := v.toAny().([]any); ok {
				for _, vol := range vols {
					if m, ok := vol.(map[string]any); ok {
						r.Volumes = append(r.Volumes, m)
					}
				}
			}
		case "_cluster_config_overrides":
			if v.kind == kindMap {
				r.ClusterConfigOverrides, _ = v.toAny().(map[string]any)
			}
		}
	}
	d.placement(r, infra, legacy)
	return r
}

// aliasOf names the alias among two keys for the "keep one" hint.
func aliasOf(a, b string) string {
	if _, ok := resourceAliases[a]; ok {
		return a
	}
	return b
}

// placement turns the deprecated cloud/region/zone into Infra, refusing them next to infra.
func (d *decoder) placement(r *Resources, infra *rfield, legacy []rfield) {
	if len(legacy) == 0 {
		return
	}
	if infra != nil {
		for _, f := range legacy {
			d.keyErr(f.line, f.col, f.path, fmt.Sprintf("cannot give %s together with infra (%s)", f.key, infra.path),
				"keep only infra: it replaces cloud, region and zone")
		}
		return
	}
	var inf Infra
	var region, zone *rfield
	for i, f := range legacy {
		s, ok := f.val.str()
		if !ok {
			continue
		}
		switch f.key {
		case "cloud":
			c, err := canonicalCloud(s)
			if err != nil {
				d.valueErr(f.val, f.path, err)
				continue
			}
			inf.Cloud = c
		case "region":
			inf.Region, region = strings.TrimSpace(s), &legacy[i]
		case "zone":
			inf.Zone, zone = strings.TrimSpace(s), &legacy[i]
		}
	}
	if slices.Contains(contextClouds, inf.Cloud) {
		inf.Context, inf.Region = inf.Region, ""
		if zone != nil {
			d.keyErr(zone.line, zone.col, zone.path, fmt.Sprintf("%s has no zones", inf.Cloud), "")
		}
	} else if slices.Contains(bareClouds, inf.Cloud) && (region != nil || zone != nil) {
		f := region
		if f == nil {
			f = zone
		}
		d.keyErr(f.line, f.col, f.path, fmt.Sprintf("%s takes no region or zone", inf.Cloud), "")
	}
	r.Infra = inf
	if !d.legacyNoticed {
		d.legacyNoticed = true
		suggestion := inf.String()
		if suggestion == "" {
			suggestion = "<cloud>/<region>"
		}
		d.deprecated(legacy[0].line, legacy[0].col, legacy[0].path, fmt.Sprintf("cloud, region and zone are deprecated; use infra: %s", suggestion))
	}
}

// accelerators decodes the string, mapping and list forms.
func (d *decoder) accelerators(v *value, path string) *Accelerators {
	acc := &Accelerators{Kind: AnyOf}
	switch v.kind {
	case kindString:
		a, err := ParseAccelerator(v.s)
		if err != nil {
			d.valueErr(v, path, err)
			return nil
		}
		acc.add(a)
	case kindMap:
		for _, f := range v.fields {
			fpath := joinPath(path, f.key)
			a, err := ParseAccelerator(f.key)
			if err != nil {
				d.keyErr(f.keyLine, f.keyCol, fpath, err.Error(), "")
				continue
			}
			if n, ok := f.val.number(); ok {
				if strings.Contains(f.key, ":") {
					d.valueErr(f.val, fpath, fmt.Errorf("the count is given twice: in the key %q and as %s", f.key, fmtNumber(n)))
					continue
				}
				if n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
					d.valueErr(f.val, fpath, fmt.Errorf("accelerator count must be positive, found %s", f.val.s))
					continue
				}
				a.Count = n
			}
			acc.add(a)
		}
	case kindList:
		acc.Kind = Ordered
		for i, it := range v.items {
			if s, ok := it.str(); ok {
				a, err := ParseAccelerator(s)
				if err != nil {
					d.valueErr(it, indexPath(path, i), err)
					continue
				}
				acc.add(a)
			}
		}
	default:
		return nil
	}
	if len(acc.Options) == 0 {
		return nil
	}
	return acc
}

func (d *decoder) jobRecovery(v *value, path string) *JobRecovery {
	jr := &JobRecovery{}
	var strategy *value
	switch v.kind {
	case kindString:
		strategy = v
	case kindMap:
		strategy = v.get("strategy")
		if n, ok := v.get("max_restarts_on_errors").integer(); ok {
			jr.MaxRestartsOnErrors = int(n)
		}
		codes := v.get("recover_on_exit_codes")
		if n, ok := codes.integer(); ok {
			jr.RecoverOnExitCodes = []int{int(n)}
		} else if codes != nil && codes.kind == kindList {
			for _, it := range codes.items {
				if n, ok := it.integer(); ok {
					jr.RecoverOnExitCodes = append(jr.RecoverOnExitCodes, int(n))
				}
			}
		}
	default:
		return nil
	}
	if s, ok := strategy.str(); ok {
		if strings.EqualFold(s, "none") {
			return nil
		}
		up := strings.ToUpper(strings.TrimSpace(s))
		if !slices.Contains(RecoveryStrategies, up) {
			spath := path
			if v.kind == kindMap {
				spath = joinPath(path, "strategy")
			}
			d.valueErr(strategy, spath, &hintError{
				msg:  fmt.Sprintf("unknown recovery strategy %q; expected one of %s or none", s, strings.Join(RecoveryStrategies, ", ")),
				hint: didYouMean(up, RecoveryStrategies),
			})
		}
		jr.Strategy = up
	}
	return jr
}

func (d *decoder) diskSize(v *value, path string) int {
	switch v.kind {
	case kindInt:
		if v.i <= 0 || v.i > math.MaxInt32 {
			d.valueErr(v, path, fmt.Errorf("must be a positive number of GB, found %s", v.s))
			return 0
		}
		return int(v.i)
	case kindString:
		n, err := ParseDiskSize(v.s)
		d.checkValue(v, path, err)
		return n
	}
	return 0
}

func (d *decoder) ports(v *value, path string) Ports {
	var specs []*value
	switch v.kind {
	case kindInt, kindString:
		specs = []*value{v}
	case kindList:
		specs = v.items
	default:
		return nil
	}
	var out Ports
	for i, s := range specs {
		if s.kind != kindInt && s.kind != kindString {
			continue
		}
		p := path
		if v.kind == kindList {
			p = indexPath(path, i)
		}
		r, err := parsePortRange(s.pyString())
		if err != nil {
			d.valueErr(s, p, err)
			continue
		}
		out = append(out, r)
	}
	return out.simplify()
}

func (d *decoder) imageID(v *value, path string) *ImageID {
	switch v.kind {
	case kindString:
		id := strings.TrimSpace(v.s)
		if id == "" || id == "docker:" {
			d.valueErr(v, path, fmt.Errorf("image_id is empty; expected an image ID or docker:<image>"))
			return nil
		}
		return &ImageID{ID: id}
	case kindMap:
		img := &ImageID{ByRegion: map[string]string{}}
		for _, f := range v.fields {
			if s, ok := f.val.str(); ok {
				img.ByRegion[strings.TrimSpace(f.key)] = strings.TrimSpace(s)
			}
		}
		return img
	}
	return nil
}

func (d *decoder) autostop(v *value, path string) *AutostopConfig {
	switch v.kind {
	case kindBool:
		return &AutostopConfig{Enabled: v.b}
	case kindInt:
		return &AutostopConfig{Enabled: true, IdleMinutes: int(min(max(v.i, 0), math.MaxInt32))}
	case kindString:
		m, err := parseMinutes(v.s)
		if err != nil {
			d.valueErr(v, path, err)
			return nil
		}
		return &AutostopConfig{Enabled: true, IdleMinutes: m}
	case kindMap:
		a := &AutostopConfig{Enabled: true}
		if n, ok := v.get("idle_minutes").integer(); ok {
			a.IdleMinutes = int(min(max(n, 0), math.MaxInt32))
		}
		if b := v.get("down"); b != nil && b.kind == kindBool {
			a.Down = b.b
		}
		if w, ok := v.get("wait_for").str(); ok {
			t, err := validTier(w, AutostopWaitFor, "autostop wait_for")
			d.checkValue(v.get("wait_for"), joinPath(path, "wait_for"), err)
			a.WaitFor = t
		}
		return a
	}
	return nil
}

// timeUnits are the autostop duration units, in minutes.
var timeUnits = map[byte]int{'m': 1, 'h': 60, 'd': 24 * 60, 'w': 7 * 24 * 60}

// parseMinutes parses an autostop duration: minutes ("30"), or a number with a unit: "10m", "2h", "1d", "1w".
func parseMinutes(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	if t != "" {
		if m, ok := timeUnits[t[len(t)-1]]; ok {
			mult, t = m, t[:len(t)-1]
		}
	}
	n := 0
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' || n > math.MaxInt32/600 {
			return 0, fmt.Errorf("expected minutes or a duration such as \"10m\", \"2h\", \"1d\", found %q", s)
		}
		n = n*10 + int(t[i]-'0')
	}
	if t == "" {
		return 0, fmt.Errorf("expected minutes or a duration such as \"10m\", \"2h\", \"1d\", found %q", s)
	}
	return n * mult, nil
}

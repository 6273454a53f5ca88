package spec

import (
	"fmt"
	"slices"
	"strings"
)

// task decodes one schema-checked task document. opts' envs and secrets win over the file's.
func (d *decoder) task(root *value, opts LoadOptions) *Task {
	t := &Task{NumNodes: 1}
	t.Envs, t.requiredEnvs = d.envs(root.field("envs"), opts.Env)
	secrets, required := d.envs(root.field("secrets"), opts.Secrets)
	t.Secrets, t.requiredSecrets = Secrets(secrets), required

	// ${VAR} in file_mounts, workdir, service and volumes take env values, then secret values (secrets win).
	d.subst = map[string]string{}
	d.unset = map[string]bool{}
	for k, v := range t.Envs {
		d.subst[k] = v
	}
	for k, v := range t.Secrets {
		d.subst[k] = v
	}
	for _, name := range slices.Concat(t.requiredEnvs, t.requiredSecrets) {
		if _, ok := d.subst[name]; !ok {
			d.unset[name] = true
		}
	}
	d.missingNotes(root.field("envs"), t.MissingEnvs(), NoticeMissingEnv, "--env")
	d.missingNotes(root.field("secrets"), t.MissingSecrets(), NoticeMissingSecret, "--secret")

	for _, f := range root.fields {
		v := f.val
		path := joinPath("", f.key)
		switch f.key {
		case "name":
			if s, ok := v.str(); ok {
				if !validTaskName.MatchString(s) {
					d.valueErr(v, path, &hintError{
						msg:  fmt.Sprintf("invalid task name %q", s),
						hint: "use letters, digits and single . _ or - between them, starting and ending with a letter or digit",
					})
				}
				t.Name = s
			}
		case "workdir":
			t.Workdir = d.workdir(d.substitute(v), path)
		case "num_nodes":
			if n, ok := v.integer(); ok && n > MaxNumNodes {
				d.valueErr(v, path, tooManyNodes(n))
			} else if ok && n >= 1 {
				t.NumNodes = int(n)
			}
		case "resources":
			t.Resources = d.resources(v, path)
		case "file_mounts":
			t.FileMounts = d.fileMounts(d.substitute(v), path)
		case "setup":
			t.Setup, _ = v.str()
		case "run":
			t.Run, _ = v.str()
		case "service":
			t.Service = d.service(d.substitute(v), path)
		case "pool":
			t.Pool = d.pool(&f, path)
		case "config":
			t.Config, t.config = anyMap(v), v
		case "volumes":
			t.Volumes = anyMap(d.substitute(v))
		case "inputs":
			t.Inputs = dataRef(v)
		case "outputs":
			t.Outputs = dataRef(v)
		case "event_callback":
			t.EventCallback, _ = v.str()
		case "file_mounts_mapping":
			t.FileMountsMapping = anyMap(v)
		case "experimental":
			t.Experimental = anyMap(v)
		}
	}
	if t.Resources == nil {
		t.Resources = &Resources{}
	}
	if f := root.field("pool"); f != nil && t.Pool != nil {
		if r := root.field("run"); r != nil {
			d.keyErr(r.keyLine, r.keyCol, "run", "a pool's task cannot have a run section",
				"a pool only provisions its workers (setup runs once on each); submit the work with `stix jobs launch --pool NAME`")
		}
		if s := root.field("service"); s != nil {
			d.keyErr(s.keyLine, s.keyCol, "service", "a task cannot have both a pool and a service section", "keep one")
		}
	}
	return t
}

// envs decodes an envs or secrets mapping, then lays the command-line values over it. It returns the values set
// and the names declared without a value (null or empty).
func (d *decoder) envs(f *field, overrides map[string]string) (map[string]string, []string) {
	set := map[string]string{}
	var required []string
	if f != nil && f.val.kind == kindMap {
		for _, ef := range f.val.fields {
			if !ValidEnvName(ef.key) {
				continue // the schema reports it
			}
			if ef.val.isNull() {
				required = append(required, ef.key)
				continue
			}
			if s, ok := envValue(ef.val); ok {
				set[ef.key] = s
			}
		}
	}
	for k, v := range overrides {
		set[k] = v
	}
	if len(set) == 0 {
		set = nil
	}
	return set, required
}

// missingNotes tells which declared names still need a value at launch.
func (d *decoder) missingNotes(f *field, names []string, kind NoticeKind, flag string) {
	for _, name := range names {
		ef := f.val.field(name)
		d.note(kind, ef.keyLine, ef.keyCol, joinPath(f.key, name), fmt.Sprintf("needs %s %s at launch", flag, name))
	}
}

// EnvNameRule says what ValidEnvName accepts, for error messages.
const EnvNameRule = "names must start with a letter or _ and hold only letters, digits and _"

// ValidEnvName reports whether s can name an environment variable: a letter or _, then letters, digits or _.
// It is the rule of the schema's envs and secrets keys, applied to --env, --secret and env files too.
func ValidEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (d *decoder) workdir(v *value, path string) *Workdir {
	switch v.kind {
	case kindString:
		if strings.TrimSpace(v.s) == "" {
			d.valueErr(v, path, fmt.Errorf("workdir is empty; expected a directory or {url, ref}"))
			return nil
		}
		return &Workdir{Path: v.s}
	case kindMap:
		w := &Workdir{}
		w.URL, _ = v.get("url").str()
		w.Ref, _ = v.get("ref").str()
		if u := v.get("url"); u != nil && u.kind == kindString {
			if err := checkGitURL(w.URL); err != nil {
				d.valueErr(u, joinPath(path, "url"), err)
			}
		}
		return w
	}
	return nil
}

// fileMounts decodes the (substituted) file_mounts mapping.
func (d *decoder) fileMounts(v *value, path string) []FileMount {
	if v == nil || v.kind != kindMap {
		return nil
	}
	var out []FileMount
	for _, f := range v.fields {
		fpath := joinPath(path, f.key)
		fm := FileMount{Dest: f.key}
		switch {
		case strings.Contains(f.key, "://"):
			d.keyErr(f.keyLine, f.keyCol, fpath, fmt.Sprintf("the destination %q is a bucket URI; destinations are paths on the nodes", f.key), "")
		case len(f.key) > 1 && strings.HasSuffix(f.key, "/"):
			d.keyErr(f.keyLine, f.keyCol, fpath, fmt.Sprintf("the destination %q ends with a slash", f.key), fmt.Sprintf("write %q", strings.TrimRight(f.key, "/")))
		case strings.TrimSpace(f.key) == "":
			d.keyErr(f.keyLine, f.keyCol, fpath, "the destination path is empty", "")
		}
		switch f.val.kind {
		case kindString:
			fm.Source = f.val.s
			d.checkSource(f.val, fpath, f.val.s)
		case kindMap:
			fm.Storage = d.storage(f, fpath)
		default:
			continue
		}
		out = append(out, fm)
	}
	return out
}

// checkSource validates a local path or bucket URI given as a source.
func (d *decoder) checkSource(v *value, path, src string) {
	switch {
	case d.pendingRef(src):
	case strings.TrimSpace(src) == "":
		d.valueErr(v, path, fmt.Errorf("the source is empty; expected a local path or a bucket URI"))
	case strings.Contains(src, "://"):
		d.checkValue(v, path, checkBucketURI(src))
	case len(src) > 1 && strings.HasSuffix(src, "/"):
		d.valueErr(v, path, &hintError{msg: fmt.Sprintf("the source %q ends with a slash", src), hint: fmt.Sprintf("write %q", strings.TrimRight(src, "/"))})
	}
}

// storage decodes a storage object (a bucket to mount or copy).
func (d *decoder) storage(f field, path string) *StorageSpec {
	v := f.val
	s := &StorageSpec{Mode: "MOUNT", Persistent: true}
	nameV := v.get("name")
	s.Name, _ = nameV.str()
	if src := v.get("source"); src != nil {
		switch src.kind {
		case kindString:
			s.Sources = []string{src.s}
			d.checkSource(src, joinPath(path, "source"), src.s)
		case kindList:
			for i, it := range src.items {
				if str, ok := it.str(); ok {
					s.Sources = append(s.Sources, str)
					d.checkSource(it, indexPath(joinPath(path, "source"), i), str)
				}
			}
		}
	}
	if st := v.get("store"); st != nil && st.kind == kindString && !d.pendingRef(st.s) {
		name, err := validTier(st.s, storeNames, "store")
		d.checkValue(st, joinPath(path, "store"), err)
		s.Store = name
	}
	if m := v.get("mode"); m != nil && m.kind == kindString && !d.pendingRef(m.s) {
		mode := strings.ToUpper(strings.TrimSpace(m.s))
		if !slices.Contains(storageModes, mode) {
			d.valueErr(m, joinPath(path, "mode"), &hintError{
				msg:  fmt.Sprintf("unknown storage mode %q; expected one of %s", m.s, strings.Join(storageModes, ", ")),
				hint: didYouMean(mode, storageModes),
			})
		}
		s.Mode = mode
	}
	if p := v.get("persistent"); p != nil && p.kind == kindBool {
		s.Persistent = p.b
	}
	s.MountOptions, _ = v.get("mount_options").str()
	s.Config = anyMap(v.get("config"))
	if fd := v.get("_force_delete"); fd != nil && fd.kind == kindBool {
		s.ForceDelete = fd.b
	}
	if s.Name == "" && len(s.Sources) == 0 {
		if nameV != nil && nameV.isNull() {
			d.note(NoticeIncomplete, nameV.line, nameV.col, joinPath(path, "name"), "the bucket name is empty; fill it in before launch")
		} else if nameV == nil {
			d.keyErr(f.keyLine, f.keyCol, path, "a storage entry needs a name or a source", "add name: <bucket> or source: <path or URI>")
		} else {
			d.valueErr(nameV, joinPath(path, "name"), fmt.Errorf("the bucket name is empty"))
		}
	}
	return s
}

func anyMap(v *value) map[string]any {
	if v == nil || v.kind != kindMap {
		return nil
	}
	m, _ := v.toAny().(map[string]any)
	return m
}

func dataRef(v *value) *DataRef {
	if v == nil || v.kind != kindMap || len(v.fields) != 1 {
		return nil
	}
	n, _ := v.fields[0].val.number()
	return &DataRef{Path: v.fields[0].key, SizeGB: n}
}

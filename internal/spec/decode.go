package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stix-run/stix/internal/lazyregexp"
)

// decoder turns one schema-checked task document into a Task. The schema has already reported wrong types and
// unknown keys, so the decoder skips values of the wrong type silently and reports what the schema cannot see:
// value grammars (infra, accelerators, sizes, ports) and rules that span several keys.
type decoder struct {
	file    string
	errs    ErrorList
	notices []Notice
	// subst holds the env and secret values that ${VAR} references in file_mounts, workdir, service and volumes
	// are replaced with; unset holds the declared names that still have no value.
	subst map[string]string
	unset map[string]bool
	// legacyNoticed: the cloud/region/zone deprecation was already reported for this task.
	legacyNoticed bool
}

func (d *decoder) pos(line, col int) Pos { return Pos{File: d.file, Line: line, Col: col} }

// keyErr reports a problem with a key (at the key's position).
func (d *decoder) keyErr(line, col int, path, msg, hint string) {
	d.errs = append(d.errs, &Error{Pos: d.pos(line, col), Path: path, Message: msg, Hint: hint})
}

// valueErr reports a bad value (at the value's position), moving a hintError's hint into Error.Hint.
func (d *decoder) valueErr(v *value, path string, err error) {
	msg, hint := splitHint(err)
	d.errs = append(d.errs, &Error{Pos: d.pos(v.line, v.col), Path: path, Message: msg, Hint: hint})
}

// checkValue reports err, if any, against v.
func (d *decoder) checkValue(v *value, path string, err error) {
	if err != nil {
		d.valueErr(v, path, err)
	}
}

func (d *decoder) deprecated(line, col int, path, msg string) {
	d.notices = append(d.notices, Notice{Pos: d.pos(line, col), Path: path, Message: msg, Kind: NoticeDeprecated})
}

func (d *decoder) note(kind NoticeKind, line, col int, path, msg string) {
	d.notices = append(d.notices, Notice{Pos: d.pos(line, col), Path: path, Message: msg, Kind: kind})
}

// envRefRe finds ${VAR} and $VAR references as SkyPilot does. Its quirks are kept on purpose: the braces are each
// optional, so "${VAR" and "$VAR}" are references too.
var envRefRe = lazyregexp.New(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)

// substitute replaces env references in every string (keys included) of v, as SkyPilot does for file_mounts,
// workdir, service and volumes. References to names that have no value are left as written. v is not changed:
// an alias may share it with other parts of the document.
func (d *decoder) substitute(v *value) *value {
	if v == nil || len(d.subst) == 0 {
		return v
	}
	switch v.kind {
	case kindString:
		s := d.expand(v.s)
		if s == v.s {
			return v
		}
		c := *v
		c.s = s
		return &c
	case kindMap:
		c := *v
		c.fields = make([]field, len(v.fields))
		for i, f := range v.fields {
			c.fields[i] = field{key: d.expand(f.key), keyLine: f.keyLine, keyCol: f.keyCol, val: d.substitute(f.val)}
		}
		return &c
	case kindList:
		c := *v
		c.items = make([]*value, len(v.items))
		for i, it := range v.items {
			c.items[i] = d.substitute(it)
		}
		return &c
	}
	return v
}

func (d *decoder) expand(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return envRefRe.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRefRe.FindStringSubmatch(ref)[1]
		if val, ok := d.subst[name]; ok {
			return val
		}
		return ref
	})
}

// pendingRef reports whether s still refers to a declared env that has no value yet: such a value can only be
// checked at launch, once --env gives it.
func (d *decoder) pendingRef(s string) bool {
	if !strings.Contains(s, "$") {
		return false
	}
	for _, m := range envRefRe.FindAllStringSubmatch(s, -1) {
		if d.unset[m[1]] {
			return true
		}
	}
	return false
}

// validTaskName follows SkyPilot: letters, digits and single or double . _ - between them.
var validTaskName = lazyregexp.New(`^[a-zA-Z0-9]+(?:[._-]{1,2}[a-zA-Z0-9]+)*$`)

// envValue stringifies an env or secret value as SkyPilot does (Python's str() of what PyYAML loaded).
func envValue(v *value) (string, bool) {
	switch v.kind {
	case kindString, kindInt, kindFloat, kindBool:
		return v.pyString(), true
	}
	return "", false
}

// storeNames and storageModes are the accepted file_mounts storage `store` and `mode` values.
var (
	storeNames   = []string{"s3", "gcs", "azure", "r2", "ibm", "oci", "nebius", "coreweave", "volume"}
	storageModes = []string{"MOUNT", "COPY", "MOUNT_CACHED"}
	// bucketSchemes are the URI schemes of bucket sources; https is Azure Blob only.
	bucketSchemes = []string{"s3", "gs", "r2", "cos", "oci", "nebius", "cw", "https"}
)

// checkBucketURI validates a bucket URI (a string with "://").
func checkBucketURI(uri string) error {
	scheme, rest, _ := strings.Cut(uri, "://")
	switch {
	case !slices.Contains(bucketSchemes, strings.ToLower(scheme)):
		return &hintError{
			msg:  fmt.Sprintf("unsupported storage URI scheme %q in %q; expected one of %s", scheme+"://", uri, strings.Join(withSuffix(bucketSchemes, "://"), ", ")),
			hint: didYouMean(strings.ToLower(scheme), bucketSchemes),
		}
	case strings.EqualFold(scheme, "https"):
		host, _, _ := strings.Cut(rest, "/")
		if !strings.HasSuffix(strings.ToLower(host), ".blob.core.windows.net") {
			return fmt.Errorf("unsupported https URI %q: only Azure Blob containers (https://<account>.blob.core.windows.net/<container>) are storage sources", uri)
		}
	case rest == "" || strings.HasPrefix(rest, "/"):
		return fmt.Errorf("bucket URI %q has no bucket name", uri)
	}
	return nil
}

func withSuffix(list []string, suffix string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s + suffix
	}
	return out
}

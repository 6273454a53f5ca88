// Package spec reads SkyPilot task YAML into stix's task model. It checks a file with the embedded JSON Schema
// and with SkyPilot's own value rules, and reports every problem at once with its file:line:col, key path, what
// was expected and what was found.
package spec

import (
	"fmt"
	"sort"
)

// LoadOptions are the values given on the command line with a task file.
type LoadOptions struct {
	// Env and Secrets (--env, --env-file, --secret) win over the file's envs and secrets. A key given on the
	// command line without a value is looked up in the caller's environment by the CLI, not here.
	Env     map[string]string
	Secrets map[string]string
}

// LoadFile reads and checks a task file. See Load.
func LoadFile(path string, opts LoadOptions) (*Pipeline, error) {
	data, err := ReadFileLimited("task file", path)
	if err != nil {
		return nil, fmt.Errorf("read task file: %w", err)
	}
	return Load(path, data, opts)
}

// Load checks a task file's content and builds its pipeline. filename is used in positions only. When the file
// is invalid the error is an ErrorList with every problem, sorted by position; the Pipeline is still returned,
// with its notices and the tasks as far as they could be read, so that callers can show everything at once.
func Load(filename string, data []byte, opts LoadOptions) (*Pipeline, error) {
	p := &Pipeline{}
	errs := checkOptions(opts)
	docs, yerrs := parseDocuments(filename, data)
	errs = append(errs, yerrs...)

	var roots []*value
	broken := map[*value]bool{}
	for _, doc := range docs {
		if doc.root != nil {
			roots = append(roots, doc.root)
			broken[doc.root] = doc.broken
		}
	}
	if len(roots) == 0 && len(yerrs) == 0 {
		errs = append(errs, &Error{Pos: Pos{File: filename, Line: 1, Col: 1}, Message: "empty task file", Hint: "a task needs at least a run: command"})
	}
	// A first document holding only `name` names the pipeline; every other document is a task.
	if len(roots) > 1 && roots[0].kind == kindMap && len(roots[0].fields) == 1 && roots[0].fields[0].key == "name" {
		nv := roots[0].fields[0].val
		if s, ok := nv.str(); ok {
			p.Name = s
		} else {
			errs = append(errs, &Error{Pos: Pos{File: filename, Line: nv.line, Col: nv.col}, Path: "name", Message: fmt.Sprintf("expected string, found %s", nv.describe())})
		}
		roots = roots[1:]
	}

	var services, pools []*field
	for _, root := range roots {
		if root.kind != kindMap {
			errs = append(errs, &Error{Pos: Pos{File: filename, Line: root.line, Col: root.col}, Message: fmt.Sprintf("a task must be a mapping of keys, found %s", root.describe())})
			continue
		}
		if broken[root] {
			continue // its YAML errors are reported; anything more would be noise
		}
		errs = append(errs, validateSchema(filename, root)...)
		d := &decoder{file: filename}
		t := d.task(root, opts)
		errs = append(errs, d.errs...)
		p.Notices = append(p.Notices, d.notices...)
		p.Tasks = append(p.Tasks, t)
		if f := root.field("service"); f != nil {
			services = append(services, f)
		}
		if f := root.field("pool"); f != nil {
			pools = append(pools, f)
		}
	}
	if len(p.Tasks) > 1 {
		for _, f := range services {
			errs = append(errs, &Error{Pos: Pos{File: filename, Line: f.keyLine, Col: f.keyCol}, Path: "service",
				Message: "a pipeline cannot have a service section", Hint: "serve a single-task file with `stix serve up`"})
		}
		for _, f := range pools {
			errs = append(errs, &Error{Pos: Pos{File: filename, Line: f.keyLine, Col: f.keyCol}, Path: "pool",
				Message: "a pipeline cannot have a pool section", Hint: "apply a single-task file with `stix jobs pool apply`"})
		}
	}
	if p.Name == "" && len(p.Tasks) == 1 {
		p.Name = p.Tasks[0].Name
	}
	p.Notices = sortNotices(p.Notices)
	if len(errs) > 0 {
		return p, errs.sortAndDedup()
	}
	return p, nil
}

// checkOptions rejects command-line env and secret names that no shell could use.
func checkOptions(opts LoadOptions) ErrorList {
	var errs ErrorList
	for _, set := range []struct {
		flag   string
		values map[string]string
	}{{"--env", opts.Env}, {"--secret", opts.Secrets}} {
		names := make([]string, 0, len(set.values))
		for k := range set.values {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !ValidEnvName(k) {
				errs = append(errs, &Error{Path: set.flag, Message: fmt.Sprintf("invalid name %q: %s", k, EnvNameRule)})
			}
		}
	}
	return errs
}

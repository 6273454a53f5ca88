// Package config reads stix's configuration as SkyPilot layers it: the user file (~/.stix/config.yaml), the
// project file (.stix.yaml or .sky.yaml in the working directory), the task's `config:` section and the command
// line's --config, each later layer overriding the earlier ones key by key. Every layer is checked against
// SkyPilot's config schema with file:line:col positions; the merged Config remembers which layer set each key.
package config

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stix-run/stix/internal/spec"
)

// Layer names a configuration source. Later layers win.
type Layer string

// The layers, lowest precedence first.
const (
	LayerUser    Layer = "user"
	LayerProject Layer = "project"
	LayerTask    Layer = "task"
	LayerCLI     Layer = "cli"
	// LayerPolicy is the configuration an admin policy answered with: it replaces the request's merged config.
	LayerPolicy Layer = "admin_policy"
)

// Origin is where a key's value was set: the layer and the position of the key in its file (for --config, the
// file is "--config" and there is no line).
type Origin struct {
	Layer Layer
	Pos   spec.Pos
}

// String renders the origin for messages: "file:line:col", or "--config".
func (o Origin) String() string { return o.Pos.String() }

// Warning is a known key that stix reads but does not act on yet.
type Warning struct {
	Key    string
	Origin Origin
	// Ignored says the key was dropped: a client's layer may not set it on an API server (ServerOnly).
	Ignored bool
}

// String renders "file:line:col: key: not used by stix yet", or why the key was ignored.
func (w Warning) String() string {
	if w.Ignored {
		return fmt.Sprintf("%s: %s: ignored: only the API server's own config sets it", w.Origin, w.Key)
	}
	return fmt.Sprintf("%s: %s: set, but not used by stix yet (stix accepts it for SkyPilot compatibility)", w.Origin, w.Key)
}

// Config is the merged configuration. The zero value and a nil *Config are an empty configuration.
type Config struct {
	// remote drops ServerOnly keys from the client's layers (Inputs.Remote).
	remote   bool
	root     *entry
	warnings []Warning
	ignored  []Warning // keys dropped from a client's layers
}

// entry is one key of the merged tree: a mapping (fields) or a value (vals: one node, or several when lists are
// appended, as kubernetes.pod_config's are).
type entry struct {
	fields map[string]*entry
	order  []string
	vals   []spec.Node
	origin Origin
}

func (e *entry) isMap() bool { return e.fields != nil }

// find follows a dotted path.
func (c *Config) find(path string) *entry {
	if c == nil || c.root == nil {
		return nil
	}
	e := c.root
	for _, step := range strings.Split(path, ".") {
		if !e.isMap() {
			return nil
		}
		if e = e.fields[step]; e == nil {
			return nil
		}
	}
	return e
}

// Get returns a key's value as plain Go values (nil, bool, int64, float64, string, map[string]any, []any) and
// whether it is set. path is dotted: "jobs.controller.resources".
func (c *Config) Get(path string) (any, bool) {
	e := c.find(path)
	if e == nil {
		return nil, false
	}
	return e.any(), true
}

// Origin says which layer and file position set a key.
func (c *Config) Origin(path string) (Origin, bool) {
	e := c.find(path)
	if e == nil {
		return Origin{}, false
	}
	return e.origin, true
}

// Warnings lists the known keys that are set but that stix does not act on yet, one per key, in file order.
func (c *Config) Warnings() []Warning {
	if c == nil {
		return nil
	}
	return c.warnings
}

// ToMap returns the whole merged configuration as plain Go values.
func (c *Config) ToMap() map[string]any {
	if c == nil || c.root == nil {
		return map[string]any{}
	}
	m, _ := c.root.any().(map[string]any)
	return m
}

func (e *entry) any() any {
	if e.isMap() {
		m := make(map[string]any, len(e.fields))
		for k, v := range e.fields {
			m[k] = v.any()
		}
		return m
	}
	if len(e.vals) == 1 {
		return e.vals[0].Any()
	}
	var l []any
	for _, v := range e.vals {
		if items, ok := v.Any().([]any); ok {
			l = append(l, items...)
		}
	}
	return l
}

// strings returns a string or a list of strings as a list.
func (c *Config) strings(path string) []string {
	v, ok := c.Get(path)
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, it := range v {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// AllowedClouds is allowed_clouds, lowercased; nil when unset (every infra allowed). A set but empty list
// allows nothing.
func (c *Config) AllowedClouds() []string {
	if c.find("allowed_clouds") == nil {
		return nil
	}
	out := []string{}
	for _, s := range c.strings("allowed_clouds") {
		out = append(out, strings.ToLower(s))
	}
	return out
}

// DockerRunOptions is docker.run_options: extra `docker run` options for tasks with a docker: image. A single
// string is one entry.
func (c *Config) DockerRunOptions() []string { return c.strings("docker.run_options") }

// ProvisionSSHTimeout is provision.ssh_timeout, the SSH connect timeout; 0 when unset.
func (c *Config) ProvisionSSHTimeout() time.Duration {
	if v, ok := c.Get("provision.ssh_timeout"); ok {
		switch n := v.(type) {
		case int64:
			return time.Duration(n) * time.Second
		case float64:
			return time.Duration(n * float64(time.Second))
		}
	}
	return 0
}

// NvidiaDisableECC is nvidia_gpus.disable_ecc.
func (c *Config) NvidiaDisableECC() bool {
	v, _ := c.Get("nvidia_gpus.disable_ecc")
	b, _ := v.(bool)
	return b
}

// RequestsRetention is api_server.requests_retention_hours, how long the API server keeps a finished request:
// ok is false when unset; a negative setting keeps requests forever (-1 is returned), and 0 removes them at the
// next collection (1ns is returned).
func (c *Config) RequestsRetention() (d time.Duration, ok bool) {
	v, ok := c.Get("api_server.requests_retention_hours")
	n, isInt := v.(int64)
	switch {
	case !ok || !isInt:
		return 0, false
	case n < 0:
		return -1, true
	case n == 0:
		return time.Nanosecond, true
	}
	return time.Duration(n) * time.Hour, true
}

// APIServerEndpoint is api_server.endpoint; "" when unset.
func (c *Config) APIServerEndpoint() string {
	v, _ := c.Get("api_server.endpoint")
	s, _ := v.(string)
	return s
}

type ctxKey struct{}

// NewContext returns ctx carrying cfg: the configuration of one request, as SkyPilot's override_skypilot_config
// scopes it. The core reads it with FromContext where a key is honoured.
func NewContext(ctx context.Context, cfg *Config) context.Context {
	return context.WithValue(ctx, ctxKey{}, cfg)
}

// FromContext returns the configuration ctx carries, or nil (an empty configuration: its accessors work).
func FromContext(ctx context.Context) *Config {
	cfg, _ := ctx.Value(ctxKey{}).(*Config)
	return cfg
}

// collectWarnings walks the merged tree: a key the schema marks honoured is used; a mapping holding honoured keys
// is looked into; any other set key is one warning.
func (c *Config) collectWarnings() {
	var walk func(e *entry, k *key, path string)
	walk = func(e *entry, k *key, path string) {
		for _, name := range e.order {
			child := e.fields[name]
			ck := childKey(k, name)
			p := joinKey(path, name)
			switch {
			case ck == nil || ck.honoured:
			case child.isMap() && ck.hasHonoured():
				walk(child, ck, p)
			default:
				c.warnings = append(c.warnings, Warning{Key: p, Origin: child.origin})
			}
		}
	}
	if c.root != nil {
		walk(c.root, schema(), "")
	}
	c.warnings = append(c.warnings, c.ignored...)
	sort.SliceStable(c.warnings, func(i, j int) bool {
		a, b := c.warnings[i].Origin.Pos, c.warnings[j].Origin.Pos
		if a.File != b.File {
			return layerRank(c.warnings[i].Origin.Layer) < layerRank(c.warnings[j].Origin.Layer)
		}
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
}

func layerRank(l Layer) int {
	return map[Layer]int{LayerUser: 0, LayerProject: 1, LayerTask: 2, LayerCLI: 3, LayerPolicy: 4}[l]
}

func childKey(k *key, name string) *key {
	switch {
	case k == nil:
		return nil
	case k.fields[name] != nil:
		return k.fields[name]
	case k.values != nil:
		return k.values
	}
	return nil
}

func (k *key) hasHonoured() bool {
	if k.honoured {
		return true
	}
	for _, f := range k.fields {
		if f.hasHonoured() {
			return true
		}
	}
	return k.values != nil && k.values.hasHonoured()
}

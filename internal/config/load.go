package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/spec"
)

// EnvConfig names the environment variable that points at another user config file.
const EnvConfig = "STIX_CONFIG"

// cliFile is what --config values show as their file in positions.
const cliFile = "--config"

// Inputs are what Load reads. Every field may be empty: an empty Inputs gives an empty Config.
type Inputs struct {
	// StixHome is $STIX_HOME (~/.stix by default); the user config is StixHome/config.yaml.
	StixHome string
	// Home is the user's home directory; ~/.sky/config.yaml is read when no stix user config exists.
	Home string
	// Cwd is the working directory, where the project file (.stix.yaml, else .sky.yaml) is looked for.
	Cwd string
	// Client are the layers a client read and sent as content (api.ConfigLayers.Read): its project file, applied
	// in place of Cwd's, and its --config values, applied after CLI.
	Client api.ConfigLayers
	// Getenv reads STIX_CONFIG; nil reads nothing.
	Getenv func(string) string
	// TaskConfig is the task's `config:` section as package spec read it (spec.Task.ConfigNode), the task
	// layer; TaskFile is the task file's name, for messages.
	TaskFile   string
	TaskConfig spec.Node
	// CLI are the --config values in order: each a config file, or comma-separated KEY=VALUE pairs whose VALUE
	// is YAML (allowed_clouds=[aws,gcp]).
	CLI []string
	// Remote says the layers other than the user's come from a client of an API server (whose user layer is the
	// server's own config): the keys in ServerOnly are dropped from them, each with a warning.
	Remote bool
}

// ServerOnly are the top-level keys that, on an API server, only the server's own config sets: a client's
// project file, task or --config cannot change which infra is allowed, the workspaces, the database, the
// server's settings or the admin policy that checks the client's own requests. SkyPilot's server ignores the
// same keys from its clients.
var ServerOnly = []string{"allowed_clouds", "workspaces", "db", "api_server", "rbac", "daemons", "admin_policy", "stix_admin_policy"}

// clientMayNotSet reports whether a key of a client's layer is dropped.
func (c *Config) clientMayNotSet(layer Layer, key string) bool {
	return c.remote && layer != LayerUser && slices.Contains(ServerOnly, key)
}

// Load reads, checks and merges the layers. A file that cannot be read is an error; an invalid layer is an
// error listing every problem (a spec.ErrorList with positions). No layer is applied when any is invalid.
func Load(in Inputs) (*Config, error) {
	cfg := &Config{remote: in.Remote}
	var errs spec.ErrorList
	apply := func(layer Layer, file string, data []byte) {
		root, lerrs := parseLayer(file, data)
		errs = append(errs, lerrs...)
		if len(lerrs) == 0 && root.Kind() == spec.NodeMap {
			origin := Origin{Layer: layer, Pos: spec.Pos{File: file, Line: root.Line(), Col: root.Col()}}
			cfg.root = cfg.overlayLayer(cfg.root, root, origin)
		}
	}
	user, err := userFile(in)
	if err != nil {
		return nil, err
	}
	if user != "" {
		data, err := api.ReadConfigFile(user)
		if err != nil {
			return nil, fmt.Errorf("read %s config: %w", LayerUser, err)
		}
		apply(LayerUser, user, data)
	}
	// The local layers (Cwd, CLI) are read as a client reads them, so that both are applied by one code path.
	client, err := api.ConfigLayers{Args: in.CLI, Dir: in.Cwd, Project: in.Client.Project}.Read()
	if err != nil {
		return nil, err
	}
	if client.Project != nil {
		apply(LayerProject, client.Project.File, []byte(client.Project.Text))
	}
	errs = append(errs, cfg.applyTask(in.TaskFile, in.TaskConfig)...)
	for _, l := range append(client.Layers, in.Client.Layers...) {
		if l.File == "" {
			errs = append(errs, cfg.applyPairs(l.Text)...)
			continue
		}
		apply(LayerCLI, l.File, []byte(l.Text))
	}
	if len(errs) > 0 {
		return nil, spec.SortErrors(errs)
	}
	cfg.collectWarnings()
	return cfg, nil
}

// Parse reads one configuration on its own, as one layer (an admin policy's answer): checked against the schema
// with positions in file, warnings collected.
func Parse(layer Layer, file string, data []byte) (*Config, error) {
	root, errs := parseLayer(file, data)
	if len(errs) > 0 {
		return nil, spec.SortErrors(errs)
	}
	cfg := &Config{}
	if root.Kind() == spec.NodeMap {
		cfg.root = overlay(nil, root, Origin{Layer: layer, Pos: spec.Pos{File: file, Line: root.Line(), Col: root.Col()}}, "", nil)
	}
	cfg.collectWarnings()
	return cfg, nil
}

// userFile is STIX_CONFIG when set (it must exist), else $STIX_HOME/config.yaml when it exists, else
// ~/.sky/config.yaml when that exists; "" when there is none.
func userFile(in Inputs) (string, error) {
	if in.Getenv != nil {
		if p := in.Getenv(EnvConfig); p != "" {
			p = expandHome(p, in.Home)
			if !api.IsConfigFile(p) {
				return "", fmt.Errorf("config file %s (from %s) does not exist: fix the path or unset %s", p, EnvConfig, EnvConfig)
			}
			return p, nil
		}
	}
	for _, p := range []string{joinIf(in.StixHome, "config.yaml"), joinIf(in.Home, ".sky", "config.yaml")} {
		if p != "" && api.IsConfigFile(p) {
			return p, nil
		}
	}
	return "", nil
}

func joinIf(dir string, elem ...string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(append([]string{dir}, elem...)...)
}

func expandHome(p, home string) string {
	if home != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, p[1:])
	}
	return p
}

// parseLayer reads one config file: one YAML document, a mapping (or empty), that fits the schema.
func parseLayer(file string, data []byte) (spec.Node, spec.ErrorList) {
	docs, err := spec.ParseYAML(file, data)
	if err != nil {
		var l spec.ErrorList
		if errors.As(err, &l) {
			return spec.Node{}, l
		}
		return spec.Node{}, spec.ErrorList{{Pos: spec.Pos{File: file}, Message: err.Error()}}
	}
	if len(docs) > 1 {
		return spec.Node{}, spec.ErrorList{{Pos: spec.Pos{File: file, Line: docs[1].Line(), Col: docs[1].Col()},
			Message: "a config file holds one YAML document, found several", Hint: "remove the --- separators"}}
	}
	if len(docs) == 0 {
		return spec.Node{}, nil
	}
	return checkRoot(file, docs[0], "", false)
}

// checkRoot checks a layer's top mapping; path prefixes key paths ("config" for a task's section).
func checkRoot(file string, root spec.Node, path string, task bool) (spec.Node, spec.ErrorList) {
	c := &checker{file: file}
	switch root.Kind() {
	case spec.NodeNull:
		return root, nil
	case spec.NodeMap:
	default:
		c.add(root.Line(), root.Col(), path, "a config must be a mapping of keys, found "+root.Describe(), "")
		return root, c.errs
	}
	c.check(root, schema(), path)
	if len(c.errs) == 0 && task {
		c.checkTaskKeys(root, path)
	}
	return root, c.errs
}

// CheckTask checks a task's `config:` section (spec.Task.ConfigNode) as the task layer is checked: the schema,
// then the keys a task may set. file is the task file, for positions. `stix validate` runs it on every task, so
// a file it passes is not refused at launch.
func CheckTask(file string, n spec.Node) spec.ErrorList {
	_, errs := checkRoot(file, n, "config", true)
	return errs
}

// applyTask overlays a task's `config:` section, once it is checked.
func (c *Config) applyTask(file string, n spec.Node) spec.ErrorList {
	if errs := CheckTask(file, n); len(errs) > 0 {
		return errs
	}
	if n.Kind() == spec.NodeMap {
		c.root = overlay(c.root, n, Origin{Layer: LayerTask, Pos: spec.Pos{File: file, Line: n.Line(), Col: n.Col()}}, "", nil)
	}
	return nil
}

// overlay merges n over dst (nil: nothing yet) as SkyPilot does: mappings merge key by key, anything else
// replaces, except that lists under kubernetes.pod_config are appended to. origin is where n's key was written.
// overlayLayer overlays a whole layer, less the keys the layer may not set (clientMayNotSet), each dropped key
// recorded as a warning.
func (c *Config) overlayLayer(dst *entry, root spec.Node, origin Origin) *entry {
	return overlay(dst, root, origin, "", func(key string, at Origin) bool {
		if c.clientMayNotSet(origin.Layer, key) {
			c.ignored = append(c.ignored, Warning{Key: key, Origin: at, Ignored: true})
			return false
		}
		return true
	})
}

// overlay lays n over dst; keep, when set, decides which top-level keys of n are laid.
func overlay(dst *entry, n spec.Node, origin Origin, path string, keep func(key string, at Origin) bool) *entry {
	if n.Kind() != spec.NodeMap {
		if dst != nil && !dst.isMap() && n.Kind() == spec.NodeList && appendsLists(path) && dst.vals[len(dst.vals)-1].Kind() == spec.NodeList {
			dst.vals = append(dst.vals, n)
			dst.origin = origin
			return dst
		}
		return &entry{vals: []spec.Node{n}, origin: origin}
	}
	if dst == nil || !dst.isMap() {
		dst = &entry{fields: map[string]*entry{}}
	}
	dst.origin = origin
	for _, f := range n.Fields() {
		forigin := Origin{Layer: origin.Layer, Pos: spec.Pos{File: origin.Pos.File, Line: f.Line, Col: f.Col}}
		if origin.Pos.File == cliFile {
			forigin.Pos = origin.Pos
		}
		if keep != nil && !keep(f.Key, forigin) {
			continue
		}
		old := dst.fields[f.Key]
		if old == nil {
			dst.order = append(dst.order, f.Key)
		}
		dst.fields[f.Key] = overlay(old, f.Value, forigin, joinKey(path, f.Key), nil)
	}
	return dst
}

func appendsLists(path string) bool {
	return strings.HasPrefix(path, "kubernetes.pod_config.") || strings.HasPrefix(path, "kubernetes.context_configs.") && strings.Contains(path, ".pod_config.")
}

// applyPairs overlays one --config value of comma-separated KEY=VALUE pairs.
func (c *Config) applyPairs(arg string) spec.ErrorList {
	var errs spec.ErrorList
	bad := func(path, msg, hint string) {
		errs = append(errs, &spec.Error{Pos: spec.Pos{File: cliFile}, Path: path, Message: msg, Hint: hint})
	}
	for _, pair := range splitPairs(arg) {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			bad("", fmt.Sprintf("%q is neither a file nor KEY=VALUE", pair), "give a config file that exists, or dotted.key=value pairs separated by commas")
			continue
		}
		steps := strings.Split(k, ".")
		if containsEmpty(steps) {
			bad(k, "empty key in a dotted path", "write keys as a.b.c")
			continue
		}
		if c.clientMayNotSet(LayerCLI, steps[0]) {
			c.ignored = append(c.ignored, Warning{Key: k, Origin: Origin{Layer: LayerCLI, Pos: spec.Pos{File: cliFile}}, Ignored: true})
			continue
		}
		kk, badAt, names := lookup(steps)
		if badAt >= 0 {
			bad(strings.Join(steps[:badAt+1], "."), fmt.Sprintf("unknown key %q", steps[badAt]), spec.DidYouMean(steps[badAt], names))
			continue
		}
		docs, err := spec.ParseYAML(cliFile, []byte(v))
		if err != nil {
			bad(k, fmt.Sprintf("value %q is not valid YAML", v), "quote it")
			continue
		}
		val := spec.Node{}
		if len(docs) > 0 {
			val = docs[0]
		}
		if kk != nil {
			ch := &checker{file: cliFile}
			ch.check(val, kk, k)
			for _, e := range ch.errs {
				e.Pos = spec.Pos{File: cliFile}
			}
			errs = append(errs, ch.errs...)
			if len(ch.errs) > 0 {
				continue
			}
		}
		c.setPath(steps, val)
	}
	return errs
}

// setPath overlays one value at a dotted path, creating the mappings on the way.
func (c *Config) setPath(steps []string, val spec.Node) {
	origin := Origin{Layer: LayerCLI, Pos: spec.Pos{File: cliFile}}
	if c.root == nil || !c.root.isMap() {
		c.root = &entry{fields: map[string]*entry{}, origin: origin}
	}
	e := c.root
	for i, step := range steps {
		if i == len(steps)-1 {
			old := e.fields[step]
			if old == nil {
				e.order = append(e.order, step)
			}
			e.fields[step] = overlay(old, val, origin, strings.Join(steps, "."), nil)
			return
		}
		next := e.fields[step]
		if next == nil {
			e.order = append(e.order, step)
		}
		if next == nil || !next.isMap() {
			next = &entry{fields: map[string]*entry{}}
			e.fields[step] = next
		}
		next.origin = origin
		e = next
	}
}

// splitPairs splits "a=1,b=[x,y]" at the commas outside brackets, braces and quotes.
func splitPairs(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == '[' || ch == '{':
			depth++
		case ch == ']' || ch == '}':
			depth--
		case ch == ',' && depth <= 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func containsEmpty(steps []string) bool {
	for _, s := range steps {
		if s == "" {
			return true
		}
	}
	return false
}

// UserFile is the user's config file as Load picks it (STIX_CONFIG, else $STIX_HOME/config.yaml, else
// ~/.sky/config.yaml); "" when there is none. The CLI reads api_server.endpoint from it before it chooses a core.
func UserFile(in Inputs) (string, error) { return userFile(in) }

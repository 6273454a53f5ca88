// Package sshpool reads SSH node pools: $STIX_HOME/ssh_node_pools.yaml in SkyPilot's format, with hosts given
// as addresses, as names from ~/.ssh/config, or as mappings. It resolves every host to what an SSH connection
// needs (address, port, user, identity files); connecting is the transport's business.
package sshpool

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the pools file under STIX_HOME (SkyPilot: ~/.sky/ssh_node_pools.yaml).
const FileName = "ssh_node_pools.yaml"

// Pool is one named set of machines.
type Pool struct {
	Name  string
	Hosts []Host
}

// Host is one machine of a pool, resolved.
type Host struct {
	// Name is the host as written in the pools file: an address, an ~/.ssh/config alias, or the mapping's ip.
	Name          string
	Address       string // what to dial: the ssh config's HostName, or Name
	Port          int
	User          string
	IdentityFiles []string
	// ProxyJump is the ssh config's ProxyJump ("user@host:port" or an alias), empty when none.
	ProxyJump string
}

// Error is a problem in the pools file, with its position.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }

// Options are what resolution needs from the environment.
type Options struct {
	// Home is the user's home: ~ in paths, and ~/.ssh/config.
	Home string
	// DefaultUser is the user when neither the pool, the host nor ssh config names one (the local user).
	DefaultUser string
}

// Load reads and resolves the pools file at path. A missing file is an error that wraps os.ErrNotExist.
func Load(path string, opts Options) ([]Pool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := readSSHConfig(filepath.Join(opts.Home, ".ssh", "config"))
	if err != nil {
		return nil, err
	}
	return Parse(path, data, cfg, opts)
}

var poolKeys = []string{"hosts", "user", "identity_file", "password", "port"}
var hostKeys = []string{"ip", "user", "identity_file", "password", "port"}

// Parse resolves the pools of a file's content; sshCfg may be nil.
func Parse(file string, data []byte, sshCfg *SSHConfig, opts Options) ([]Pool, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", file, err)
	}
	errAt := func(n *yaml.Node, format string, args ...any) error {
		return &Error{File: file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: no node pools: add one, e.g. `my-pool: {hosts: [1.2.3.4]}`", file)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "expected a mapping of pool names to pools")
	}
	var pools []Pool
	for i := 0; i+1 < len(root.Content); i += 2 {
		name, body := root.Content[i], root.Content[i+1]
		if body.Kind != yaml.MappingNode {
			return nil, errAt(body, "pool %q: expected a mapping with `hosts`", name.Value)
		}
		defaults := hostFields{}
		var hosts *yaml.Node
		for j := 0; j+1 < len(body.Content); j += 2 {
			k, v := body.Content[j], body.Content[j+1]
			if k.Value == "hosts" {
				hosts = v
				continue
			}
			if err := defaults.set(k, v, poolKeys, errAt); err != nil {
				return nil, err
			}
		}
		if hosts == nil || hosts.Kind != yaml.SequenceNode || len(hosts.Content) == 0 {
			return nil, errAt(body, "pool %q: missing `hosts`: list the machines' addresses or ~/.ssh/config names", name.Value)
		}
		pool := Pool{Name: name.Value}
		for _, h := range hosts.Content {
			f := defaults
			switch h.Kind {
			case yaml.ScalarNode:
				f.ip = h.Value
			case yaml.MappingNode:
				for j := 0; j+1 < len(h.Content); j += 2 {
					if err := f.set(h.Content[j], h.Content[j+1], hostKeys, errAt); err != nil {
						return nil, err
					}
				}
				if f.ip == "" {
					return nil, errAt(h, "pool %q: host without `ip`", name.Value)
				}
			default:
				return nil, errAt(h, "pool %q: a host is an address, an ssh config name, or a mapping with `ip`", name.Value)
			}
			pool.Hosts = append(pool.Hosts, f.resolve(sshCfg, opts))
		}
		pools = append(pools, pool)
	}
	return pools, nil
}

// Find returns the pool called name, or an error listing the pools there are.
func Find(pools []Pool, name string) (Pool, error) {
	var names []string
	for _, p := range pools {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return Pool{}, fmt.Errorf("no SSH node pool %q: the pools are %s (see %s)", name, strings.Join(names, ", "), FileName)
}

// hostFields are the settable fields of a pool or host entry.
type hostFields struct {
	ip, user, identity string
	port               int
}

func (f *hostFields) set(k, v *yaml.Node, allowed []string, errAt func(*yaml.Node, string, ...any) error) error {
	if !slices.Contains(allowed, k.Value) {
		return errAt(k, "unknown key %q (expected one of %s)", k.Value, strings.Join(allowed, ", "))
	}
	if v.Kind != yaml.ScalarNode {
		return errAt(v, "%s: expected a single value", k.Value)
	}
	switch k.Value {
	case "ip":
		f.ip = v.Value
	case "user":
		f.user = v.Value
	case "identity_file":
		f.identity = v.Value
	case "password":
		return errAt(k, "password authentication is not supported: use identity_file (a key) or ssh-agent")
	case "port":
		p, err := strconv.Atoi(v.Value)
		if err != nil || p < 1 || p > 65535 {
			return errAt(v, "port: expected 1-65535, got %q", v.Value)
		}
		f.port = p
	}
	return nil
}

// resolve fills a host from ssh config (for names it knows) and defaults; values in the pools file win.
func (f hostFields) resolve(cfg *SSHConfig, opts Options) Host {
	h := Host{Name: f.ip, Address: f.ip, Port: f.port, User: f.user}
	if f.identity != "" {
		h.IdentityFiles = []string{expand(f.identity, opts.Home)}
	}
	if cfg != nil {
		c := cfg.Lookup(f.ip)
		if c.HostName != "" {
			h.Address = c.HostName
		}
		if h.Port == 0 && c.Port != 0 {
			h.Port = c.Port
		}
		if h.User == "" {
			h.User = c.User
		}
		if len(h.IdentityFiles) == 0 {
			for _, id := range c.IdentityFiles {
				h.IdentityFiles = append(h.IdentityFiles, expand(id, opts.Home))
			}
		}
		h.ProxyJump = c.ProxyJump
	}
	if h.Port == 0 {
		h.Port = 22
	}
	if h.User == "" {
		h.User = opts.DefaultUser
	}
	return h
}

func expand(p, home string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	return p
}

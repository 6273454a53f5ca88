package sshpool

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// SSHConfig is the part of ~/.ssh/config stix honours: Host blocks with HostName, Port, User, IdentityFile and
// ProxyJump. As in OpenSSH, the first value found for a keyword wins, blocks in file order.
type SSHConfig struct {
	blocks []sshBlock
}

type sshBlock struct {
	patterns []string
	opts     [][2]string // lower-case keyword, value
}

// HostConfig is what ssh config says of one host.
type HostConfig struct {
	HostName      string
	Port          int
	User          string
	IdentityFiles []string
	ProxyJump     string
}

func readSSHConfig(file string) (*SSHConfig, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return &SSHConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseSSHConfig(data), nil
}

// ParseSSHConfig reads ssh config text. Lines it does not understand are ignored, as a reader of a subset must.
func ParseSSHConfig(data []byte) *SSHConfig {
	cfg := &SSHConfig{blocks: []sshBlock{{patterns: []string{"*"}}}} // options before any Host apply to all
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, " ")
		if k, v, eq := strings.Cut(line, "="); eq && (!ok || len(k) < len(key)) {
			key, val, ok = k, v, true
		}
		if !ok {
			continue
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.Trim(strings.TrimSpace(val), `"`)
		if key == "host" {
			cfg.blocks = append(cfg.blocks, sshBlock{patterns: strings.Fields(val)})
			continue
		}
		b := &cfg.blocks[len(cfg.blocks)-1]
		b.opts = append(b.opts, [2]string{key, val})
	}
	return cfg
}

// Lookup returns what the config says of host.
func (c *SSHConfig) Lookup(host string) HostConfig {
	var h HostConfig
	seen := map[string]bool{}
	for _, b := range c.blocks {
		if !matches(b.patterns, host) {
			continue
		}
		for _, o := range b.opts {
			k, v := o[0], o[1]
			if k == "identityfile" { // IdentityFile accumulates
				h.IdentityFiles = append(h.IdentityFiles, v)
				continue
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			switch k {
			case "hostname":
				h.HostName = v
			case "port":
				h.Port, _ = strconv.Atoi(v)
			case "user":
				h.User = v
			case "proxyjump":
				if v != "none" {
					h.ProxyJump = v
				}
			}
		}
	}
	return h
}

// matches applies ssh's Host patterns: globs, and negations with "!".
func matches(patterns []string, host string) bool {
	ok := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if m, _ := path.Match(strings.TrimPrefix(p, "!"), host); m {
			if neg {
				return false
			}
			ok = true
		}
	}
	return ok
}

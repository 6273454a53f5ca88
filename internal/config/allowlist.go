package config

import (
	"fmt"
	"slices"
	"strings"
)

// AllowList is a config key that lists the names allowed (allowed_clouds, ssh.allowed_node_pools), with where it
// was set, for messages. A nil Names allows every name.
type AllowList struct {
	Key    string // the dotted key, e.g. "allowed_clouds"
	Names  []string
	Origin Origin
	fold   bool // compare names case-insensitively
}

// AllowedList returns the list at key: nil Names when the key is unset. Names are compared case-insensitively
// when fold is set (cloud names), exactly otherwise (pool names).
func (c *Config) AllowedList(key string, fold bool) AllowList {
	o, _ := c.Origin(key)
	return AllowList{Key: key, Names: c.strings(key), Origin: o, fold: fold}
}

// Allows reports whether name may be used; "" (nothing named) always may.
func (a AllowList) Allows(name string) bool {
	if a.Names == nil || name == "" {
		return true
	}
	if a.fold {
		return slices.ContainsFunc(a.Names, func(n string) bool { return strings.EqualFold(n, name) })
	}
	return slices.Contains(a.Names, name)
}

// String renders "allowed_clouds [aws, gcp] (set at ~/.stix/config.yaml:1:1)".
func (a AllowList) String() string {
	return fmt.Sprintf("%s [%s] (set at %s)", a.Key, strings.Join(a.Names, ", "), a.Origin)
}

// Check refuses a name the list does not allow; what ("infra", "SSH node pool") names the kind of thing.
func (a AllowList) Check(what, name string) error {
	if a.Allows(name) {
		return nil
	}
	return fmt.Errorf("%s %s is not allowed by %s: add %s to %s, or use an allowed one", what, name, a, name, a.Key)
}
